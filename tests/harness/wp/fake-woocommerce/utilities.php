<?php
/**
 * TEST-ONLY stand-ins for the two WooCommerce utility classes the OrderChatz plugin calls.
 */
namespace Automattic\WooCommerce\Utilities;

class OrderUtil {
	public static function custom_orders_table_usage_is_enabled() {
		return (bool) get_option( 'ocz_fakewc_hpos', true );
	}
}

class FeaturesUtil {
	/** @var array<string, array<string, bool>> feature => plugin file => compatible */
	public static $declared = array();

	public static function declare_compatibility( $feature_id, $plugin_file, $positive_compatibility = true ) {
		self::$declared[ $feature_id ][ $plugin_file ] = (bool) $positive_compatibility;
		return true;
	}
}
