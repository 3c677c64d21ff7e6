<?php
/**
 * The only place that talks HTTP to the sidecar (and the only caller of wp_remote_post/get).
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Signed server-to-server calls (DESIGN.md §4) and Bearer calls with a panel token.
 */
class OrderChatz_Sidecar_Client {

	const EVENT_TIMEOUT   = 5;
	const DEFAULT_TIMEOUT = 3;
	const BADGE_TIMEOUT   = 1;

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
	 * POST one event to /wp/events.
	 *
	 * @param array $event   Event body with `event_id` and `type`.
	 * @param int   $timeout Seconds.
	 * @return OrderChatz_Sidecar_Response
	 */
	public function post_event( array $event, $timeout = self::EVENT_TIMEOUT ) {
		$body = (string) wp_json_encode( $event, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
		return $this->signed_post( '/wp/events', $body, $timeout );
	}

	/**
	 * GET /readyz, signed over an empty body so the sidecar can also say whether our secret matches.
	 *
	 * @return OrderChatz_Sidecar_Response
	 */
	public function check_ready() {
		if ( ! $this->settings->is_configured() ) {
			return self::not_configured();
		}
		return self::to_response(
			wp_remote_get(
				$this->settings->sidecar_url() . '/readyz',
				$this->args( array( 'X-OrderChatz-Signature' => $this->sign( '' ) ), self::DEFAULT_TIMEOUT )
			)
		);
	}

	/**
	 * GET /api/v1/unread with a panel token. Short timeout: it feeds the admin menu badge.
	 *
	 * @param string $bearer Panel JWT.
	 * @return OrderChatz_Sidecar_Response
	 */
	public function fetch_unread( $bearer ) {
		return $this->bearer_get( '/api/v1/unread', array(), $bearer, self::BADGE_TIMEOUT );
	}

	/**
	 * GET /api/v1/bindings/lookup with a panel token.
	 *
	 * @param array  $query  customer_id, email, phone.
	 * @param string $bearer Panel JWT.
	 * @return OrderChatz_Sidecar_Response
	 */
	public function lookup_binding( array $query, $bearer ) {
		return $this->bearer_get( '/api/v1/bindings/lookup', $query, $bearer, self::DEFAULT_TIMEOUT );
	}

	/**
	 * The `X-OrderChatz-Signature` value: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
	 *
	 * @param string   $body Raw request body.
	 * @param int|null $now  Unix time (tests).
	 * @return string
	 */
	public function sign( $body, $now = null ) {
		$timestamp = null === $now ? time() : (int) $now;
		$mac       = hash_hmac( 'sha256', $timestamp . '.' . $body, $this->settings->shared_secret() );
		return 't=' . $timestamp . ',v1=' . $mac;
	}

	/**
	 * Signed JSON POST.
	 *
	 * @param string $path    Path under the sidecar URL.
	 * @param string $body    Raw JSON body (signed byte for byte).
	 * @param int    $timeout Seconds.
	 * @return OrderChatz_Sidecar_Response
	 */
	private function signed_post( $path, $body, $timeout ) {
		if ( ! $this->settings->is_configured() ) {
			return self::not_configured();
		}
		$args         = $this->args( array( 'X-OrderChatz-Signature' => $this->sign( $body ) ), $timeout );
		$args['body'] = $body;
		return self::to_response( wp_remote_post( $this->settings->sidecar_url() . $path, $args ) );
	}

	/**
	 * GET with `Authorization: Bearer`.
	 *
	 * @param string $path    Path under the sidecar URL.
	 * @param array  $query   Query arguments.
	 * @param string $bearer  Panel JWT.
	 * @param int    $timeout Seconds.
	 * @return OrderChatz_Sidecar_Response
	 */
	private function bearer_get( $path, array $query, $bearer, $timeout ) {
		if ( ! $this->settings->is_configured() ) {
			return self::not_configured();
		}
		$url = $this->settings->sidecar_url() . $path;
		if ( $query ) {
			$url .= '?' . http_build_query( $query, '', '&', PHP_QUERY_RFC3986 );
		}
		return self::to_response( wp_remote_get( $url, $this->args( array( 'Authorization' => 'Bearer ' . $bearer ), $timeout ) ) );
	}

	/**
	 * Common request arguments. No redirects: a signed request must reach the URL it was signed for.
	 *
	 * @param array $headers Extra headers.
	 * @param int   $timeout Seconds.
	 * @return array
	 */
	private function args( array $headers, $timeout ) {
		return array(
			'timeout'     => $timeout,
			'redirection' => 0,
			'user-agent'  => 'OrderChatz/' . ORDERCHATZ_VERSION . '; ' . home_url( '/' ),
			'headers'     => array_merge(
				array(
					'Content-Type' => 'application/json',
					'Accept'       => 'application/json',
				),
				$headers
			),
		);
	}

	/**
	 * Convert a WordPress HTTP API result.
	 *
	 * @param array|WP_Error $result wp_remote_* result.
	 * @return OrderChatz_Sidecar_Response
	 */
	private static function to_response( $result ) {
		if ( is_wp_error( $result ) ) {
			return new OrderChatz_Sidecar_Response( 0, array(), $result->get_error_message() );
		}
		$json = json_decode( (string) wp_remote_retrieve_body( $result ), true );
		return new OrderChatz_Sidecar_Response( (int) wp_remote_retrieve_response_code( $result ), is_array( $json ) ? $json : array() );
	}

	/**
	 * The response used when the URL or the secret is missing.
	 *
	 * @return OrderChatz_Sidecar_Response
	 */
	private static function not_configured() {
		return new OrderChatz_Sidecar_Response( 0, array(), 'OrderChatz is not configured: the sidecar URL or the shared secret is missing.' );
	}
}
