<?php
/**
 * Plugin Name: OrderChatz TEST-ONLY WooCommerce stand-in
 * Description: Loaded as a mu-plugin by tests/harness/wordpress.py only. Defines just enough of
 *              WooCommerce for the OrderChatz plugin tests (WooCommerce itself is not installable
 *              on the test machine). NEVER install this on a real site.
 *
 * Set the option `ocz_fakewc_disabled` to a truthy value to simulate "WooCommerce not active",
 * and `ocz_fakewc_hpos` to choose the order-storage mode the stand-in reports.
 */
if ( get_option( 'ocz_fakewc_disabled' ) ) {
	return;
}
require __DIR__ . '/fake-woocommerce/utilities.php';
require __DIR__ . '/fake-woocommerce/woocommerce.php';
