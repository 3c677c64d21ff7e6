<?php
/**
 * "OrderChatz (LINE)" meta box on the order edit screen, in both storage modes.
 *
 * The box renders instantly with a link to OrderChatz; the binding status is fetched by a small
 * script through our REST route, so a slow sidecar never slows the order screen.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Order screen meta box.
 */
class OrderChatz_Order_Meta_Box {

	/**
	 * Configuration.
	 *
	 * @var OrderChatz_Settings
	 */
	private $settings;

	/**
	 * Constructor.
	 *
	 * @param OrderChatz_Settings $settings Configuration.
	 */
	public function __construct( OrderChatz_Settings $settings ) {
		$this->settings = $settings;
	}

	/**
	 * Register hooks.
	 */
	public function add_hooks() {
		add_action( 'add_meta_boxes', array( $this, 'register' ) );
	}

	/**
	 * Add the box to the HPOS screen (woocommerce_page_wc-orders) and the legacy one (shop_order).
	 *
	 * @link https://github.com/woocommerce/woocommerce/wiki/High-Performance-Order-Storage-Upgrade-Recipe-Book#audit-for-order-administration-screen-functions
	 */
	public function register() {
		if ( ! current_user_can( OrderChatz_Admin_Menu::CAPABILITY ) ) {
			return;
		}
		add_meta_box( 'orderchatz-binding', __( 'OrderChatz (LINE)', 'orderchatz' ), array( $this, 'render' ), ( new OrderChatz_Woo() )->order_screen_ids(), 'side', 'default' );
	}

	/**
	 * Render the box.
	 *
	 * @param WP_Post|WC_Order|object $post_or_order The legacy screen passes a post, HPOS the order.
	 */
	public function render( $post_or_order ) {
		if ( ! current_user_can( OrderChatz_Admin_Menu::CAPABILITY ) ) {
			return;
		}
		$order = $post_or_order instanceof WP_Post ? wc_get_order( $post_or_order->ID ) : $post_or_order;
		if ( ! is_object( $order ) || ! method_exists( $order, 'get_id' ) || ! $order->get_id() ) {
			echo '<p>' . esc_html__( 'Save the order first.', 'orderchatz' ) . '</p>';
			return;
		}
		$panel_url = admin_url( 'admin.php?page=' . OrderChatz_Admin_Menu::PAGE_SLUG );
		printf(
			'<div class="orderchatz-binding" data-order-id="%1$d"><p class="orderchatz-binding-status">%2$s</p><p><a class="button orderchatz-open-conversation" href="%3$s">%4$s</a></p></div>',
			absint( $order->get_id() ),
			esc_html( $this->settings->is_configured() ? __( 'Checking whether this customer is a LINE friend…', 'orderchatz' ) : __( 'OrderChatz is not connected yet.', 'orderchatz' ) ),
			esc_url( $panel_url ),
			esc_html__( 'Open OrderChatz', 'orderchatz' )
		);
		if ( ! $this->settings->is_configured() ) {
			return;
		}
		wp_enqueue_script( 'orderchatz-meta-box', plugins_url( 'assets/js/orderchatz-meta-box.js', ORDERCHATZ_PLUGIN_FILE ), array(), ORDERCHATZ_VERSION, true );
		wp_add_inline_script(
			'orderchatz-meta-box',
			'window.orderchatzMetaBox = ' . wp_json_encode(
				array(
					'bindingUrl' => esc_url_raw( rest_url( 'orderchatz/v1/binding' ) ),
					'restNonce'  => wp_create_nonce( 'wp_rest' ),
					'i18n'       => array(
						/* translators: %s: LINE display name(s) */
						'bound'       => __( 'Bound to LINE friend: %s', 'orderchatz' ),
						'notBound'    => __( 'This customer is not bound to a LINE friend yet.', 'orderchatz' ),
						'unavailable' => __( 'OrderChatz is unreachable right now.', 'orderchatz' ),
						'openChat'    => __( 'Open the conversation', 'orderchatz' ),
					),
				)
			) . ';',
			'before'
		);
	}
}
