<?php
/**
 * Wiring: the one place that decides which parts run, and activation / deactivation.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Boots the plugin once WordPress has loaded every plugin, so the WooCommerce check is reliable.
 */
final class OrderChatz_Plugin {

	/**
	 * Register the bootstrap hooks. Called once from the main plugin file.
	 */
	public static function add_hooks() {
		register_activation_hook( ORDERCHATZ_PLUGIN_FILE, array( __CLASS__, 'activate' ) );
		register_deactivation_hook( ORDERCHATZ_PLUGIN_FILE, array( __CLASS__, 'deactivate' ) );
		add_action( 'before_woocommerce_init', array( __CLASS__, 'declare_woocommerce_compatibility' ) );
		add_action( 'init', array( __CLASS__, 'load_textdomain' ) );
		add_filter( 'cron_schedules', array( 'OrderChatz_Event_Queue', 'add_cron_schedule' ) );
		add_action( 'plugins_loaded', array( __CLASS__, 'boot' ) );
	}

	/**
	 * Declare High-Performance Order Storage support: the plugin only uses wc_get_order(), order
	 * getters and the OrderUtil helpers, never the posts table.
	 *
	 * @link https://github.com/woocommerce/woocommerce/wiki/High-Performance-Order-Storage-Upgrade-Recipe-Book
	 */
	public static function declare_woocommerce_compatibility() {
		if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', ORDERCHATZ_PLUGIN_FILE, true );
		}
	}

	/**
	 * Translations follow determine_locale(), i.e. the user's admin language in wp-admin.
	 */
	public static function load_textdomain() {
		load_plugin_textdomain( 'orderchatz', false, dirname( plugin_basename( ORDERCHATZ_PLUGIN_FILE ) ) . '/languages' );
	}

	/**
	 * Build the services. Without WooCommerce only an admin notice is added (WordPress 6.1 does not
	 * enforce the "Requires Plugins" header yet, so this guard replaces a fatal error).
	 */
	public static function boot() {
		if ( ! OrderChatz_Woo::is_active() ) {
			add_action( 'admin_notices', array( __CLASS__, 'render_woocommerce_missing_notice' ) );
			return;
		}
		$settings = new OrderChatz_Settings();
		$woo      = new OrderChatz_Woo();
		$client   = new OrderChatz_Sidecar_Client( $settings );
		$tokens   = new OrderChatz_Panel_Token( $settings, $woo );
		$queue    = new OrderChatz_Event_Queue( $client );

		$queue->add_hooks();
		( new OrderChatz_Order_Events( $settings, $woo, $queue ) )->add_hooks();
		( new OrderChatz_Admin_Menu( $settings, $woo, $tokens ) )->add_hooks();
		( new OrderChatz_Settings_Page( $settings, $client, $queue ) )->add_hooks();
		( new OrderChatz_Rest_Controller( $settings, $client, $tokens ) )->add_hooks();
		( new OrderChatz_Order_Meta_Box( $settings ) )->add_hooks();
		( new OrderChatz_Account_Link( $settings, $client ) )->add_hooks();
	}

	/**
	 * Admin notice shown instead of the plugin when WooCommerce is not active.
	 */
	public static function render_woocommerce_missing_notice() {
		if ( ! current_user_can( 'activate_plugins' ) ) {
			return;
		}
		printf(
			'<div class="notice notice-error"><p>%s</p></div>',
			esc_html__( 'OrderChatz needs WooCommerce. Please install and activate WooCommerce; until then OrderChatz does nothing.', 'orderchatz' )
		);
	}

	/**
	 * Activation: create the settings option (so the Settings API never sanitises twice on the
	 * first save), start the sweeper and re-queue events that were waiting when we were deactivated.
	 */
	public static function activate() {
		add_option( OrderChatz_Settings::OPTION, OrderChatz_Settings::defaults(), '', 'no' );
		OrderChatz_Event_Queue::schedule_sweeper();
		OrderChatz_Event_Queue::resume_pending();
	}

	/**
	 * Deactivation stops the schedules but keeps undelivered events, so reactivating delivers them.
	 */
	public static function deactivate() {
		OrderChatz_Event_Queue::unschedule_all();
	}
}
