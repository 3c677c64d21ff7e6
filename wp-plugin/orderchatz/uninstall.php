<?php
/**
 * Uninstall: remove exactly what OrderChatz created — its settings option, queued events and
 * their locks, its transients and its schedules. Orders, notes and users are WooCommerce's and
 * WordPress's and stay untouched.
 *
 * @package OrderChatz
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

global $wpdb;

delete_option( 'orderchatz_settings' );

foreach ( array( 'orderchatz_event_', 'orderchatz_lock_', '_transient_orderchatz_', '_transient_timeout_orderchatz_' ) as $orderchatz_prefix ) {
	$wpdb->query( $wpdb->prepare( "DELETE FROM {$wpdb->options} WHERE option_name LIKE %s", $wpdb->esc_like( $orderchatz_prefix ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
}
wp_cache_delete( 'alloptions', 'options' );
wp_cache_delete( 'notoptions', 'options' );

wp_unschedule_hook( 'orderchatz_deliver_event' );
wp_unschedule_hook( 'orderchatz_sweep_events' );
if ( function_exists( 'as_unschedule_all_actions' ) ) {
	as_unschedule_all_actions( 'orderchatz_deliver_event', array(), 'orderchatz' );
}
