<?php
/**
 * Short-lived HS256 panel tokens (DESIGN.md §4), encoded here without a JWT library.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Mints the JWT the panel iframe sends to the sidecar as `Authorization: Bearer`.
 */
class OrderChatz_Panel_Token {

	const AUDIENCE = 'orderchatz-panel';
	const LIFETIME = 300;

	/**
	 * Capabilities reported in the `caps` claim when the user has them.
	 */
	const REPORTED_CAPS = array( 'manage_woocommerce', 'edit_shop_orders', 'view_woocommerce_reports', 'list_users', 'edit_users', 'manage_options' );

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
	 * Constructor.
	 *
	 * @param OrderChatz_Settings $settings Configuration.
	 * @param OrderChatz_Woo      $woo      WooCommerce helpers.
	 */
	public function __construct( OrderChatz_Settings $settings, OrderChatz_Woo $woo ) {
		$this->settings = $settings;
		$this->woo      = $woo;
	}

	/**
	 * A token for the user, or null when no shared secret is configured.
	 *
	 * @param WP_User  $user The staff member.
	 * @param int|null $now  Unix time (tests).
	 * @return array{token: string, expires_at: int}|null
	 */
	public function mint_for( WP_User $user, $now = null ) {
		$secret = $this->settings->shared_secret();
		if ( '' === $secret || ! $user->exists() ) {
			return null;
		}
		$issued_at = null === $now ? time() : (int) $now;
		$claims    = array(
			'iss'       => self::issuer(),
			'aud'       => self::AUDIENCE,
			'sub'       => (string) $user->ID,
			'name'      => (string) $user->display_name,
			'caps'      => self::caps_of( $user ),
			'locale'    => get_user_locale( $user ),
			'hpos'      => $this->woo->hpos_enabled(),
			'admin_url' => admin_url(),
			'home_url'  => home_url( '/' ),
			'iat'       => $issued_at,
			'exp'       => $issued_at + self::LIFETIME,
			'jti'       => bin2hex( random_bytes( 16 ) ),
		);
		return array(
			'token'      => self::encode( $claims, $secret ),
			'expires_at' => $claims['exp'],
		);
	}

	/**
	 * The `iss` claim: the origin of home_url() without a trailing slash.
	 *
	 * @return string
	 */
	public static function issuer() {
		return OrderChatz_Settings::origin_of( home_url() );
	}

	/**
	 * Reported capabilities the user has.
	 *
	 * @param WP_User $user The user.
	 * @return string[]
	 */
	private static function caps_of( WP_User $user ) {
		return array_values(
			array_filter(
				self::REPORTED_CAPS,
				function ( $cap ) use ( $user ) {
					return user_can( $user, $cap );
				}
			)
		);
	}

	/**
	 * JWS compact serialisation with HS256 (RFC 7515 / RFC 7518 §3.2).
	 *
	 * @param array  $claims Payload.
	 * @param string $secret HMAC key.
	 * @return string
	 */
	public static function encode( array $claims, $secret ) {
		$flags   = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
		$header  = self::base64url( (string) wp_json_encode( array( 'alg' => 'HS256', 'typ' => 'JWT' ), $flags ) );
		$payload = self::base64url( (string) wp_json_encode( $claims, $flags ) );
		$mac     = hash_hmac( 'sha256', $header . '.' . $payload, $secret, true );
		return $header . '.' . $payload . '.' . self::base64url( $mac );
	}

	/**
	 * Unpadded base64url.
	 *
	 * @param string $bytes Raw bytes.
	 * @return string
	 */
	private static function base64url( $bytes ) {
		return rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions.obfuscation_base64_encode
	}
}
