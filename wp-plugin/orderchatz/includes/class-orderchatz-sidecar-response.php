<?php
/**
 * The outcome of one call to the sidecar, independent of the WordPress HTTP API.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Immutable result: HTTP status (0 when the request never got an answer), decoded JSON body and
 * a transport error message.
 */
final class OrderChatz_Sidecar_Response {

	/**
	 * HTTP status, 0 for a transport failure (refused, timeout, DNS) or "not configured".
	 *
	 * @var int
	 */
	public $status;

	/**
	 * Decoded JSON object, or an empty array.
	 *
	 * @var array
	 */
	public $json;

	/**
	 * Transport error text, '' when an HTTP answer arrived.
	 *
	 * @var string
	 */
	public $transport_error;

	/**
	 * Constructor.
	 *
	 * @param int    $status          HTTP status or 0.
	 * @param array  $json            Decoded body.
	 * @param string $transport_error Error message when no answer arrived.
	 */
	public function __construct( $status, array $json, $transport_error = '' ) {
		$this->status          = (int) $status;
		$this->json            = $json;
		$this->transport_error = (string) $transport_error;
	}

	/**
	 * 2xx.
	 *
	 * @return bool
	 */
	public function is_success() {
		return $this->status >= 200 && $this->status < 300;
	}

	/**
	 * 4xx: our request was refused (wrong secret, bad token, invalid body).
	 *
	 * @return bool
	 */
	public function is_client_error() {
		return $this->status >= 400 && $this->status < 500;
	}

	/**
	 * The `error` code of a JSON error body, or ''.
	 *
	 * @return string
	 */
	public function error_code() {
		return isset( $this->json['error'] ) && is_string( $this->json['error'] ) ? $this->json['error'] : '';
	}

	/**
	 * One line for logs and admin screens (never contains the secret).
	 *
	 * @return string
	 */
	public function describe() {
		if ( 0 === $this->status ) {
			return $this->transport_error;
		}
		$text = 'HTTP ' . $this->status;
		if ( '' !== $this->error_code() ) {
			$text .= ' ' . $this->error_code();
		}
		if ( isset( $this->json['message'] ) && is_string( $this->json['message'] ) ) {
			$text .= ': ' . $this->json['message'];
		}
		return $text;
	}
}
