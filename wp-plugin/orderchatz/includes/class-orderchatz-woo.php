<?php
/**
 * What the plugin needs to know about WooCommerce: is it there, which order storage, edit URLs.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Thin, storage-aware helpers around WooCommerce.
 */
class OrderChatz_Woo {

	/**
	 * Whether WooCommerce is loaded.
	 *
	 * @return bool
	 */
	public static function is_active() {
		return class_exists( 'WooCommerce' ) && function_exists( 'wc_get_order' );
	}

	/**
	 * Whether orders live in the HPOS custom tables.
	 *
	 * @return bool
	 */
	public function hpos_enabled() {
		return class_exists( '\Automattic\WooCommerce\Utilities\OrderUtil' )
			&& \Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled();
	}

	/**
	 * Admin URL template of the order edit screen with `{id}` as placeholder. The screens differ
	 * between storage modes (HPOS: admin.php?page=wc-orders&action=edit&id=, legacy: post.php).
	 *
	 * @link https://github.com/woocommerce/woocommerce/wiki/High-Performance-Order-Storage-Upgrade-Recipe-Book#detecting-whether-hpos-tables-are-being-used-in-the-store
	 * @return string
	 */
	public function order_edit_url_template() {
		if ( $this->hpos_enabled() ) {
			return admin_url( 'admin.php?page=wc-orders&action=edit&id={id}' );
		}
		return admin_url( 'post.php?post={id}&action=edit' );
	}

	/**
	 * Edit URL of one order, preferring WooCommerce's own answer.
	 *
	 * @param WC_Order|object $order The order.
	 * @return string
	 */
	public function order_edit_url( $order ) {
		if ( is_object( $order ) && method_exists( $order, 'get_edit_order_url' ) ) {
			return (string) $order->get_edit_order_url();
		}
		return str_replace( '{id}', (string) absint( $order->get_id() ), $this->order_edit_url_template() );
	}

	/**
	 * Admin URL template of a user's profile with `{id}` as placeholder.
	 *
	 * @return string
	 */
	public function customer_edit_url_template() {
		return admin_url( 'user-edit.php?user_id={id}' );
	}

	/**
	 * Screen ids of the order edit screen in both storage modes.
	 *
	 * @return string[]
	 */
	public function order_screen_ids() {
		$screens = array( 'shop_order' );
		if ( function_exists( 'wc_get_page_screen_id' ) ) {
			$screens[] = wc_get_page_screen_id( 'shop-order' );
		}
		$screens[] = 'woocommerce_page_wc-orders';
		return array_values( array_unique( $screens ) );
	}
}
