<?php
/**
 * REST routes used by the plugin's own admin scripts (namespace orderchatz/v1).
 *
 * Every route requires cookie authentication with a valid `wp_rest` nonce (checked explicitly, so
 * application passwords or other non-browser credentials cannot mint panel tokens) and the
 * manage_woocommerce capability.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * POST /token (fresh panel token), GET /unread (menu badge), GET /binding (order meta box).
 */
class OrderChatz_Rest_Controller {

	const ROUTE_NAMESPACE = 'orderchatz/v1';

	/**
	 * Configuration.
	 *
	 * @var OrderChatz_Settings
	 */
	private $settings;

	/**
	 * HTTP client.
	 *
	 * @var OrderChatz_Sidecar_Client
	 */
	private $client;

	/**
	 * Token minting.
	 *
	 * @var OrderChatz_Panel_Token
	 */
	private $tokens;

	/**
	 * Constructor.
	 *
	 * @param OrderChatz_Settings       $settings Configuration.
	 * @param OrderChatz_Sidecar_Client $client   HTTP client.
	 * @param OrderChatz_Panel_Token    $tokens   Token minting.
	 */
	public function __construct( OrderChatz_Settings $settings, OrderChatz_Sidecar_Client $client, OrderChatz_Panel_Token $tokens ) {
		$this->settings = $settings;
		$this->client   = $client;
		$this->tokens   = $tokens;
	}

	/**
	 * Register hooks.
	 */
	public function add_hooks() {
		add_action( 'rest_api_init', array( $this, 'register_routes' ) );
	}

	/**
	 * Register the routes.
	 */
	public function register_routes() {
		register_rest_route(
			self::ROUTE_NAMESPACE,
			'/token',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( $this, 'issue_token' ),
				'permission_callback' => array( $this, 'check_staff_request' ),
			)
		);
		register_rest_route(
			self::ROUTE_NAMESPACE,
			'/unread',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'get_unread' ),
				'permission_callback' => array( $this, 'check_staff_request' ),
			)
		);
		register_rest_route(
			self::ROUTE_NAMESPACE,
			'/binding',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( $this, 'get_binding' ),
				'permission_callback' => array( $this, 'check_staff_request' ),
				'args'                => array(
					'order_id' => array(
						'type'              => 'integer',
						'required'          => true,
						'minimum'           => 1,
						'sanitize_callback' => 'absint',
					),
				),
			)
		);
	}

	/**
	 * Cookie auth + `wp_rest` nonce + capability.
	 *
	 * WordPress already drops the cookie user when the nonce is missing or wrong
	 * (rest_cookie_check_errors); the explicit check also refuses other auth methods.
	 *
	 * @link https://developer.wordpress.org/rest-api/using-the-rest-api/authentication/#cookie-authentication
	 * @param WP_REST_Request $request The request.
	 * @return true|WP_Error
	 */
	public function check_staff_request( WP_REST_Request $request ) {
		if ( ! is_user_logged_in() ) {
			return new WP_Error( 'rest_not_logged_in', __( 'Log in to WordPress first.', 'orderchatz' ), array( 'status' => 401 ) );
		}
		$nonce = (string) $request->get_header( 'X-WP-Nonce' );
		if ( '' === $nonce ) {
			$nonce = (string) $request->get_param( '_wpnonce' );
		}
		if ( ! wp_verify_nonce( $nonce, 'wp_rest' ) ) {
			return new WP_Error( 'rest_cookie_invalid_nonce', __( 'Cookie nonce is invalid', 'orderchatz' ), array( 'status' => 403 ) );
		}
		if ( ! current_user_can( OrderChatz_Admin_Menu::CAPABILITY ) ) {
			return new WP_Error( 'rest_forbidden', __( 'Sorry, you are not allowed to use OrderChatz.', 'orderchatz' ), array( 'status' => 403 ) );
		}
		return true;
	}

	/**
	 * POST /orderchatz/v1/token → `{token, expires_at}`.
	 *
	 * @return WP_REST_Response|WP_Error
	 */
	public function issue_token() {
		$minted = $this->tokens->mint_for( wp_get_current_user() );
		if ( ! $minted ) {
			return new WP_Error( 'orderchatz_not_configured', __( 'OrderChatz has no shared secret configured.', 'orderchatz' ), array( 'status' => 503 ) );
		}
		$response = new WP_REST_Response( $minted, 200 );
		$response->header( 'Cache-Control', 'no-store' );
		return $response;
	}

	/**
	 * GET /orderchatz/v1/unread: fetched server-side (≤1 s) and cached for the menu badge.
	 *
	 * @return WP_REST_Response|WP_Error
	 */
	public function get_unread() {
		$minted   = $this->tokens->mint_for( wp_get_current_user() );
		$response = $minted ? $this->client->fetch_unread( $minted['token'] ) : null;
		if ( ! $response || ! $response->is_success() || ! isset( $response->json['unread_conversations'] ) ) {
			OrderChatz_Admin_Menu::cache_unread( null );
			return new WP_Error( 'orderchatz_sidecar_unavailable', __( 'The OrderChatz sidecar did not answer.', 'orderchatz' ), array( 'status' => 502 ) );
		}
		$conversations = max( 0, (int) $response->json['unread_conversations'] );
		OrderChatz_Admin_Menu::cache_unread( $conversations );
		return new WP_REST_Response(
			array(
				'unread_conversations' => $conversations,
				'unread_messages'      => isset( $response->json['unread_messages'] ) ? max( 0, (int) $response->json['unread_messages'] ) : 0,
			),
			200
		);
	}

	/**
	 * GET /orderchatz/v1/binding?order_id= → `{bound, friends: [{line_user_id, display_name, panel_url}]}`.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function get_binding( WP_REST_Request $request ) {
		$order = wc_get_order( (int) $request['order_id'] );
		if ( ! $order ) {
			return new WP_Error( 'orderchatz_order_not_found', __( 'No such order.', 'orderchatz' ), array( 'status' => 404 ) );
		}
		$minted = $this->tokens->mint_for( wp_get_current_user() );
		if ( ! $minted ) {
			return new WP_Error( 'orderchatz_not_configured', __( 'OrderChatz has no shared secret configured.', 'orderchatz' ), array( 'status' => 503 ) );
		}
		$query    = array_filter(
			array(
				'customer_id' => absint( $order->get_customer_id() ),
				'email'       => (string) $order->get_billing_email(),
				'phone'       => (string) $order->get_billing_phone(),
			)
		);
		$response = $this->client->lookup_binding( $query, $minted['token'] );
		if ( ! $response->is_success() ) {
			return new WP_Error( 'orderchatz_sidecar_unavailable', __( 'The OrderChatz sidecar did not answer.', 'orderchatz' ), array( 'status' => 502 ) );
		}
		$friends = array();
		foreach ( isset( $response->json['friends'] ) && is_array( $response->json['friends'] ) ? $response->json['friends'] : array() as $friend ) {
			$line_user_id = is_array( $friend ) && isset( $friend['line_user_id'] ) ? (string) $friend['line_user_id'] : '';
			if ( ! preg_match( '/^U[0-9a-f]{32}\z/i', $line_user_id ) ) {
				continue;
			}
			$friends[] = array(
				'line_user_id' => $line_user_id,
				'display_name' => isset( $friend['display_name'] ) ? sanitize_text_field( (string) $friend['display_name'] ) : '',
				'panel_url'    => admin_url( 'admin.php?page=' . OrderChatz_Admin_Menu::PAGE_SLUG . '&friend=' . rawurlencode( $line_user_id ) ),
			);
		}
		return new WP_REST_Response(
			array(
				'bound'   => ! empty( $response->json['bound'] ) && (bool) $friends,
				'friends' => $friends,
			),
			200
		);
	}
}
