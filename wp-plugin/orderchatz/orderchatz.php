<?php
/**
 * Plugin Name:          OrderChatz
 * Plugin URI:           https://github.com/orderchatz/orderchatz
 * Description:          LINE Official Account inbox for WooCommerce: chat with customers, see their orders and write order notes without leaving WP admin.
 * Version:              0.1.0
 * Requires at least:    6.1
 * Requires PHP:         7.4
 * Requires Plugins:     woocommerce
 * Author:               OrderChatz
 * License:              GPL-2.0-or-later
 * License URI:          https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:          orderchatz
 * Domain Path:          /languages
 * WC requires at least: 7.1
 * WC tested up to:      7.9
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

define( 'ORDERCHATZ_VERSION', '0.1.0' );
define( 'ORDERCHATZ_PLUGIN_FILE', __FILE__ );
define( 'ORDERCHATZ_PLUGIN_DIR', plugin_dir_path( __FILE__ ) );

require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-settings.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-woo.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-sidecar-response.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-sidecar-client.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-panel-token.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-event-queue.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-order-events.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-admin-menu.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-settings-page.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-rest-controller.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-order-meta-box.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-account-link.php';
require_once ORDERCHATZ_PLUGIN_DIR . 'includes/class-orderchatz-plugin.php';

OrderChatz_Plugin::add_hooks();
