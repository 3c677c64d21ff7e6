<?php
/**
 * Turns WooCommerce order-note and status hooks into queued sidecar events.
 *
 * Argument shapes are the ones WooCommerce 7.9 really passes (recorded in the shared fixtures'
 * hooks.json): `woocommerce_new_customer_note` gets `{order_id, customer_note}` without a note id
 * and fires before `woocommerce_order_note_added( $comment_id, $order )`, which fires for every
 * note; only the comment meta `is_customer_note` tells customer notes from private ones.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Order hooks → OrderChatz_Event_Queue.
 */
class OrderChatz_Order_Events {

	/**
	 * Configuration.
	 *
	 * @var OrderChatz_Settings
	 */
	private $settings;

	/**
	 * WooCommerce helpers.
	 *
	 * @var OrderChatz_Woo
	 */
	private $woo;

	/**
	 * Outbound queue.
	 *
	 * @var OrderChatz_Event_Queue
	 */
	private $queue;

	/**
	 * Order ids for which woocommerce_new_customer_note fired and note_added has not yet.
	 *
	 * @var array<int, true>
	 */
	private $announced_customer_notes = array();

	/**
	 * Newest note id per order in this request (the automatic status-change note precedes
	 * woocommerce_order_status_changed and makes its event id stable).
	 *
	 * @var array<int, int>
	 */
	private $last_note_by_order = array();

	/**
	 * Constructor.
	 *
	 * @param OrderChatz_Settings    $settings Configuration.
	 * @param OrderChatz_Woo         $woo      WooCommerce helpers.
	 * @param OrderChatz_Event_Queue $queue    Outbound queue.
	 */
	public function __construct( OrderChatz_Settings $settings, OrderChatz_Woo $woo, OrderChatz_Event_Queue $queue ) {
		$this->settings = $settings;
		$this->woo      = $woo;
		$this->queue    = $queue;
	}

	/**
	 * Register the WooCommerce hooks.
	 */
	public function add_hooks() {
		add_action( 'woocommerce_new_customer_note', array( $this, 'remember_customer_note' ), 10, 1 );
		add_action( 'woocommerce_order_note_added', array( $this, 'forward_customer_note' ), 10, 2 );
		add_action( 'woocommerce_order_status_changed', array( $this, 'forward_status_change' ), 10, 4 );
	}

	/**
	 * `woocommerce_new_customer_note`: remember that the next note on this order is for the customer.
	 *
	 * @param array $args `{order_id: int, customer_note: string}`.
	 */
	public function remember_customer_note( $args ) {
		if ( is_array( $args ) && ! empty( $args['order_id'] ) ) {
			$this->announced_customer_notes[ absint( $args['order_id'] ) ] = true;
		}
	}

	/**
	 * `woocommerce_order_note_added`: queue customer notes that the sidecar did not write itself.
	 *
	 * @param int             $note_id Comment id of the note.
	 * @param WC_Order|object $order   The order (a WC_Order subclass).
	 */
	public function forward_customer_note( $note_id, $order ) {
		$note_id = absint( $note_id );
		if ( ! $note_id || ! is_object( $order ) || ! method_exists( $order, 'get_id' ) ) {
			return;
		}
		$order_id                              = absint( $order->get_id() );
		$this->last_note_by_order[ $order_id ] = $note_id;
		$announced                             = isset( $this->announced_customer_notes[ $order_id ] );
		unset( $this->announced_customer_notes[ $order_id ] );

		$is_customer_note = '1' === (string) get_comment_meta( $note_id, 'is_customer_note', true ) || $announced;
		if ( ! $is_customer_note || self::is_sidecar_request() ) {
			return;
		}
		$comment = get_comment( $note_id );
		if ( ! $comment instanceof WP_Comment ) {
			return;
		}
		$this->queue->enqueue(
			array_merge(
				array(
					'event_id'      => 'note-' . $note_id,
					'type'          => 'order.customer_note',
					'note_id'       => $note_id,
					'note'          => (string) $comment->comment_content,
					'customer_note' => true,
				),
				$this->order_fields( $order ),
				array( 'created_at' => self::iso_utc( $comment->comment_date_gmt ) )
			)
		);
	}

	/**
	 * `woocommerce_order_status_changed`: queue the change when the setting asks for it.
	 *
	 * @param int             $order_id Order id.
	 * @param string          $from     Old status without `wc-`.
	 * @param string          $to       New status without `wc-`.
	 * @param WC_Order|object $order    The order.
	 */
	public function forward_status_change( $order_id, $from, $to, $order = null ) {
		if ( ! $this->settings->forward_status_changes() ) {
			return;
		}
		$order_id = absint( $order_id );
		if ( ! is_object( $order ) ) {
			$order = wc_get_order( $order_id );
		}
		if ( ! $order_id || ! is_object( $order ) ) {
			return;
		}
		$from = sanitize_key( (string) $from );
		$to   = sanitize_key( (string) $to );
		// The status-change note written just before makes the id stable if the hook runs twice.
		$discriminator = isset( $this->last_note_by_order[ $order_id ] )
			? 'n' . $this->last_note_by_order[ $order_id ]
			: str_replace( '.', '', sprintf( '%.6F', microtime( true ) ) );
		$this->queue->enqueue(
			array_merge(
				array(
					'event_id' => sprintf( 'status-%d-%s-%s-%s', $order_id, $from, $to, $discriminator ),
					'type'     => 'order.status_changed',
					'from'     => $from,
					'to'       => $to,
				),
				$this->order_fields( $order ),
				array( 'created_at' => gmdate( 'Y-m-d\TH:i:s\Z' ) )
			)
		);
	}

	/**
	 * True while serving a REST request the sidecar made (it marks them with
	 * `X-OrderChatz-Origin: sidecar`): its own notes must not be echoed back.
	 *
	 * @return bool
	 */
	public static function is_sidecar_request() {
		if ( ! defined( 'REST_REQUEST' ) || ! REST_REQUEST || ! isset( $_SERVER['HTTP_X_ORDERCHATZ_ORIGIN'] ) ) {
			return false;
		}
		$origin = strtolower( trim( sanitize_text_field( wp_unslash( $_SERVER['HTTP_X_ORDERCHATZ_ORIGIN'] ) ) ) );
		return hash_equals( 'sidecar', $origin );
	}

	/**
	 * Order fields shared by every order event.
	 *
	 * @param WC_Order|object $order The order.
	 * @return array
	 */
	private function order_fields( $order ) {
		return array(
			'order_id'       => absint( $order->get_id() ),
			'order_number'   => (string) $order->get_order_number(),
			'order_edit_url' => $this->woo->order_edit_url( $order ),
			'customer_id'    => absint( $order->get_customer_id() ),
			'billing_email'  => (string) $order->get_billing_email(),
			'billing_phone'  => (string) $order->get_billing_phone(),
			'billing_name'   => self::billing_name( (string) $order->get_billing_first_name(), (string) $order->get_billing_last_name() ),
		);
	}

	/**
	 * "王小明" for CJK names (family name first, no space), "Ming Wang" otherwise.
	 *
	 * @param string $first Given name.
	 * @param string $last  Family name.
	 * @return string
	 */
	public static function billing_name( $first, $last ) {
		$first = trim( $first );
		$last  = trim( $last );
		if ( '' !== $first && '' !== $last && preg_match( '/^[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]+$/u', $first . $last ) ) {
			return $last . $first;
		}
		return trim( $first . ' ' . $last );
	}

	/**
	 * ISO 8601 UTC from a MySQL GMT datetime.
	 *
	 * @param string $mysql_gmt `Y-m-d H:i:s` in UTC.
	 * @return string
	 */
	private static function iso_utc( $mysql_gmt ) {
		$time = strtotime( $mysql_gmt . ' UTC' );
		return gmdate( 'Y-m-d\TH:i:s\Z', false === $time ? time() : $time );
	}
}
