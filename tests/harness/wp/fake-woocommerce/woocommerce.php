<?php
/**
 * TEST-ONLY minimal WooCommerce: orders are `shop_order` posts, notes are `order_note` comments
 * (as in WooCommerce's legacy storage), and the note / status hooks fire with the argument shapes
 * recorded from WooCommerce 7.9 (../shared/fixtures/woocommerce/recorded/hooks.json).
 */

define( 'WC_VERSION', '7.9.0' );

final class WooCommerce {
	public $version = WC_VERSION;
	private static $instance;

	public static function instance() {
		if ( null === self::$instance ) {
			self::$instance = new self();
		}
		return self::$instance;
	}
}

function WC() { // phpcs:ignore WordPress.NamingConventions.ValidFunctionName
	return WooCommerce::instance();
}

class WC_Order {
	private $id;
	private $status;

	public function __construct( $id ) {
		$this->id     = (int) $id;
		$this->status = substr( (string) get_post_status( $this->id ), 3 );
	}

	public function get_id() {
		return $this->id;
	}

	public function get_type() {
		return 'shop_order';
	}

	public function get_order_number() {
		return (string) $this->id;
	}

	public function get_status() {
		return $this->status;
	}

	public function get_customer_id() {
		return (int) get_post_meta( $this->id, '_customer_user', true );
	}

	public function get_billing_email() {
		return (string) get_post_meta( $this->id, '_billing_email', true );
	}

	public function get_billing_phone() {
		return (string) get_post_meta( $this->id, '_billing_phone', true );
	}

	public function get_billing_first_name() {
		return (string) get_post_meta( $this->id, '_billing_first_name', true );
	}

	public function get_billing_last_name() {
		return (string) get_post_meta( $this->id, '_billing_last_name', true );
	}

	public function get_formatted_billing_full_name() {
		/* translators: WooCommerce's own format: 1: first name 2: last name */
		return sprintf( '%1$s %2$s', $this->get_billing_first_name(), $this->get_billing_last_name() );
	}

	public function get_edit_order_url() {
		if ( Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled() ) {
			return admin_url( 'admin.php?page=wc-orders&action=edit&id=' . $this->id );
		}
		return admin_url( 'post.php?post=' . $this->id . '&action=edit' );
	}

	public function add_order_note( $note, $is_customer_note = 0, $added_by_user = false ) {
		$author = 'WooCommerce';
		$email  = 'woocommerce@127.0.0.1';
		if ( is_user_logged_in() && $added_by_user ) {
			$user   = wp_get_current_user();
			$author = $user->display_name;
			$email  = $user->user_email;
		}
		$comment_id = wp_insert_comment(
			array(
				'comment_post_ID'      => $this->id,
				'comment_author'       => $author,
				'comment_author_email' => $email,
				'comment_content'      => $note,
				'comment_agent'        => 'WooCommerce',
				'comment_type'         => 'order_note',
				'comment_approved'     => 1,
			)
		);
		if ( $is_customer_note ) {
			add_comment_meta( $comment_id, 'is_customer_note', 1 );
			do_action(
				'woocommerce_new_customer_note',
				array(
					'order_id'      => $this->id,
					'customer_note' => $note,
				)
			);
		}
		do_action( 'woocommerce_order_note_added', $comment_id, $this );
		return $comment_id;
	}

	public function update_status( $new_status, $note = '' ) {
		$new_status = 0 === strpos( $new_status, 'wc-' ) ? substr( $new_status, 3 ) : $new_status;
		$old_status = $this->status;
		if ( $new_status === $old_status ) {
			return false;
		}
		wp_update_post(
			array(
				'ID'          => $this->id,
				'post_status' => 'wc-' . $new_status,
			)
		);
		$this->status = $new_status;
		$this->add_order_note( trim( $note . ' Order status changed from ' . $old_status . ' to ' . $new_status . '.' ) );
		do_action( 'woocommerce_order_status_' . $new_status, $this->id, $this );
		do_action( 'woocommerce_order_status_changed', $this->id, $old_status, $new_status, $this );
		return true;
	}
}

function wc_get_order( $order_id = false ) {
	$post = get_post( (int) $order_id );
	if ( ! $post || 'shop_order' !== $post->post_type ) {
		return false;
	}
	return new WC_Order( $post->ID );
}

function wc_create_order_note( $order_id, $note, $is_customer_note = false, $added_by_user = false ) {
	$order = wc_get_order( $order_id );
	if ( ! $order ) {
		return new WP_Error( 'invalid_order_id', 'Invalid order ID.' );
	}
	return $order->add_order_note( $note, (int) $is_customer_note, $added_by_user );
}

function wc_get_page_screen_id( $for ) {
	if ( 'shop-order' === $for && Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled() ) {
		return 'woocommerce_page_wc-orders';
	}
	return str_replace( '-', '_', $for );
}

/**
 * Test helper (not WooCommerce API): create an order post with billing data.
 *
 * @param array $data status, customer_id, billing_email, billing_phone, billing_first_name, billing_last_name.
 */
function ocz_fakewc_create_order( array $data ) {
	$data = array_merge(
		array(
			'status'             => 'pending',
			'customer_id'        => 0,
			'billing_email'      => '',
			'billing_phone'      => '',
			'billing_first_name' => '',
			'billing_last_name'  => '',
		),
		$data
	);
	$order_id = wp_insert_post(
		array(
			'post_type'   => 'shop_order',
			'post_status' => 'wc-' . $data['status'],
			'post_title'  => 'Order',
		),
		true
	);
	update_post_meta( $order_id, '_customer_user', (int) $data['customer_id'] );
	foreach ( array( 'billing_email', 'billing_phone', 'billing_first_name', 'billing_last_name' ) as $key ) {
		update_post_meta( $order_id, '_' . $key, $data[ $key ] );
	}
	return $order_id;
}

add_action(
	'init',
	function () {
		register_post_type(
			'shop_order',
			array(
				'public'   => false,
				'show_ui'  => false,
				'supports' => array( 'comments' ),
			)
		);
		foreach ( array( 'pending', 'processing', 'on-hold', 'completed', 'cancelled', 'refunded', 'failed' ) as $status ) {
			register_post_status( 'wc-' . $status, array( 'internal' => true ) );
		}
		// Real WooCommerce fires this from WooCommerce::init(), itself hooked to `init`.
		do_action( 'before_woocommerce_init' );
	},
	0
);

// WooCommerce creates these roles/capabilities at install time; do the same once per site.
if ( ! wp_installing() && get_role( 'administrator' ) && ! get_role( 'shop_manager' ) ) {
	$ocz_fakewc_caps = array(
		'read'                   => true,
		'manage_woocommerce'     => true,
		'view_woocommerce_reports' => true,
		'edit_shop_orders'       => true,
		'read_shop_order'        => true,
		'edit_users'             => true,
		'list_users'             => true,
	);
	add_role( 'shop_manager', 'Shop manager', $ocz_fakewc_caps );
	add_role( 'customer', 'Customer', array( 'read' => true ) );
	$ocz_fakewc_admin = get_role( 'administrator' );
	foreach ( array_keys( $ocz_fakewc_caps ) as $ocz_fakewc_cap ) {
		$ocz_fakewc_admin->add_cap( $ocz_fakewc_cap );
	}
}

/*
 * A stand-in for POST /wp-json/wc/v3/orders/<id>/notes so tests can add notes over HTTP the way
 * the sidecar does (the real endpoint also fires the same two hooks, see hooks.json).
 */
add_action(
	'rest_api_init',
	function () {
		register_rest_route(
			'wc/v3',
			'/orders/(?P<id>\d+)/notes',
			array(
				'methods'             => 'POST',
				'permission_callback' => function () {
					return current_user_can( 'edit_shop_orders' );
				},
				'callback'            => function ( WP_REST_Request $request ) {
					$order = wc_get_order( (int) $request['id'] );
					if ( ! $order ) {
						return new WP_Error( 'woocommerce_rest_order_invalid_id', 'Invalid order ID.', array( 'status' => 404 ) );
					}
					$note_id = $order->add_order_note( (string) $request['note'], (int) ! empty( $request['customer_note'] ), ! empty( $request['added_by_user'] ) );
					return new WP_REST_Response(
						array(
							'id'            => $note_id,
							'note'          => (string) $request['note'],
							'customer_note' => ! empty( $request['customer_note'] ),
						),
						201
					);
				},
			)
		);
	}
);
