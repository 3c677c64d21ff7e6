<?php
/**
 * Run by `wp eval-file` in the compose `setup` service: makes sure the sidecar has a WooCommerce
 * REST key (read_write, owned by the admin user) and prints "<consumer_key> <consumer_secret>".
 *
 * Reuses the key from the previous run when it still exists with read_write permission, so
 * `docker compose up` after `down` keeps the same credentials. Otherwise it creates one the way
 * WooCommerce's own key screen does (WC_Auth::create_keys / WC_AJAX::update_api_key): the
 * consumer key is stored only as wc_api_hash() (HMAC-SHA256 with key 'wc-api'), the secret in
 * clear, truncated_key is the key's last 7 characters.
 *
 * @link https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

if ( ! function_exists( 'wc_api_hash' ) || ! function_exists( 'wc_rand_hash' ) ) {
	WP_CLI::error( 'WooCommerce is not active; cannot create a REST key.' );
}

global $wpdb;
$orderchatz_table       = $wpdb->prefix . 'woocommerce_api_keys';
$orderchatz_description = 'OrderChatz sidecar (docker-compose)';

$orderchatz_user = get_user_by( 'login', (string) getenv( 'WP_ADMIN_USER' ) );
if ( ! $orderchatz_user ) {
	WP_CLI::error( 'The admin user named by WP_ADMIN_USER does not exist.' );
}

$orderchatz_ck = (string) getenv( 'ORDERCHATZ_WC_CONSUMER_KEY' );
$orderchatz_cs = (string) getenv( 'ORDERCHATZ_WC_CONSUMER_SECRET' );

if ( '' !== $orderchatz_ck && '' !== $orderchatz_cs ) {
	// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
	$orderchatz_existing = $wpdb->get_var(
		$wpdb->prepare(
			"SELECT key_id FROM {$orderchatz_table} WHERE consumer_key = %s AND consumer_secret = %s AND permissions = 'read_write'",
			wc_api_hash( $orderchatz_ck ),
			$orderchatz_cs
		)
	);
	if ( $orderchatz_existing ) {
		WP_CLI::line( $orderchatz_ck . ' ' . $orderchatz_cs );
		return;
	}
}

// A key we made earlier but whose secret is lost is useless: remove it rather than pile up keys.
$wpdb->delete( $orderchatz_table, array( 'description' => $orderchatz_description ), array( '%s' ) );

$orderchatz_ck = 'ck_' . wc_rand_hash();
$orderchatz_cs = 'cs_' . wc_rand_hash();
$orderchatz_ok = $wpdb->insert(
	$orderchatz_table,
	array(
		'user_id'         => $orderchatz_user->ID,
		'description'     => $orderchatz_description,
		'permissions'     => 'read_write',
		'consumer_key'    => wc_api_hash( $orderchatz_ck ),
		'consumer_secret' => $orderchatz_cs,
		'truncated_key'   => substr( $orderchatz_ck, -7 ),
	),
	array( '%d', '%s', '%s', '%s', '%s', '%s' )
);
if ( ! $orderchatz_ok ) {
	WP_CLI::error( 'Could not store the WooCommerce REST key: ' . $wpdb->last_error );
}
WP_CLI::line( $orderchatz_ck . ' ' . $orderchatz_cs );
