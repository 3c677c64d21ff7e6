<?php
/**
 * The plugin's configuration: wp-config.php constants win over the saved option (DESIGN.md §4).
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Read access to the sidecar URL, the shared secret and the forwarding switch.
 */
class OrderChatz_Settings {

	const OPTION            = 'orderchatz_settings';
	const MIN_SECRET_LENGTH = 32;

	/**
	 * Stored option shape.
	 *
	 * @return array{sidecar_url: string, shared_secret: string, forward_status_changes: bool}
	 */
	public static function defaults() {
		return array(
			'sidecar_url'            => '',
			'shared_secret'          => '',
			'forward_status_changes' => false,
		);
	}

	/**
	 * The saved option merged over the defaults.
	 *
	 * @return array
	 */
	public function stored() {
		$stored = get_option( self::OPTION, array() );
		return array_merge( self::defaults(), is_array( $stored ) ? $stored : array() );
	}

	/**
	 * Whether the sidecar URL comes from wp-config.php.
	 *
	 * @return bool
	 */
	public function url_is_constant() {
		return defined( 'ORDERCHATZ_SIDECAR_URL' ) && '' !== (string) ORDERCHATZ_SIDECAR_URL;
	}

	/**
	 * Whether the shared secret comes from wp-config.php.
	 *
	 * @return bool
	 */
	public function secret_is_constant() {
		return defined( 'ORDERCHATZ_SHARED_SECRET' ) && '' !== (string) ORDERCHATZ_SHARED_SECRET;
	}

	/**
	 * Sidecar base URL without trailing slash, or '' when not configured.
	 *
	 * @return string
	 */
	public function sidecar_url() {
		$url = $this->url_is_constant() ? (string) ORDERCHATZ_SIDECAR_URL : (string) $this->stored()['sidecar_url'];
		return untrailingslashit( trim( $url ) );
	}

	/**
	 * The shared secret. Never print it or send it to a browser.
	 *
	 * @return string
	 */
	public function shared_secret() {
		return $this->secret_is_constant() ? (string) ORDERCHATZ_SHARED_SECRET : (string) $this->stored()['shared_secret'];
	}

	/**
	 * Whether order status changes are forwarded (customer notes always are).
	 *
	 * @return bool
	 */
	public function forward_status_changes() {
		return (bool) $this->stored()['forward_status_changes'];
	}

	/**
	 * Both the URL and the secret are set.
	 *
	 * @return bool
	 */
	public function is_configured() {
		return '' !== $this->sidecar_url() && '' !== $this->shared_secret();
	}

	/**
	 * `scheme://host[:port]` of the sidecar: the exact postMessage target origin.
	 *
	 * @return string
	 */
	public function sidecar_origin() {
		return self::origin_of( $this->sidecar_url() );
	}

	/**
	 * The URL to paste into the LINE Developers console as the webhook URL.
	 *
	 * @return string
	 */
	public function line_webhook_url() {
		return '' === $this->sidecar_url() ? '' : $this->sidecar_url() . '/line/webhook';
	}

	/**
	 * True when the admin runs on https but the sidecar does not: browsers block such an iframe
	 * as mixed content.
	 *
	 * @link https://developer.wordpress.org/reference/functions/is_ssl/
	 * @param string $url Sidecar URL to check.
	 * @return bool
	 */
	public static function is_mixed_content( $url ) {
		return is_ssl() && 'http' === strtolower( (string) wp_parse_url( $url, PHP_URL_SCHEME ) );
	}

	/**
	 * The secret for display: bullets plus its last four characters.
	 *
	 * @return string
	 */
	public function masked_secret() {
		$secret = $this->shared_secret();
		if ( '' === $secret ) {
			return '';
		}
		return str_repeat( '•', 8 ) . substr( $secret, -4 );
	}

	/**
	 * `scheme://host[:port]` of a URL, '' when it has no scheme or host.
	 *
	 * @param string $url Any absolute URL.
	 * @return string
	 */
	public static function origin_of( $url ) {
		$parts = wp_parse_url( (string) $url );
		if ( empty( $parts['scheme'] ) || empty( $parts['host'] ) ) {
			return '';
		}
		$origin = strtolower( $parts['scheme'] ) . '://' . strtolower( $parts['host'] );
		if ( ! empty( $parts['port'] ) ) {
			$origin .= ':' . (int) $parts['port'];
		}
		return $origin;
	}
}
