<?php
/**
 * The customer-facing account-link page: `{site}/?orderchatz-link=<linkToken>`.
 *
 * Flow (LINE account link): the customer logs in to the shop, confirms, we ask the sidecar for a
 * nonce for this WP user over a signed call, and redirect to LINE's account-link dialog URL the
 * sidecar returns. The explicit confirmation (a nonce-protected POST) stops a forged link from
 * binding a logged-in victim's shop account to someone else's LINE account.
 *
 * @link https://developers.line.biz/en/docs/messaging-api/linking-accounts/
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Front-end account-link handler.
 */
class OrderChatz_Account_Link {

	const QUERY_VAR     = 'orderchatz-link';
	const LINE_HOST     = 'access.line.me';
	const NONCE_ACTION  = 'orderchatz_account_link';

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
	 * Constructor.
	 *
	 * @param OrderChatz_Settings       $settings Configuration.
	 * @param OrderChatz_Sidecar_Client $client   HTTP client.
	 */
	public function __construct( OrderChatz_Settings $settings, OrderChatz_Sidecar_Client $client ) {
		$this->settings = $settings;
		$this->client   = $client;
	}

	/**
	 * Register hooks.
	 */
	public function add_hooks() {
		add_action( 'template_redirect', array( $this, 'handle' ), 1 );
	}

	/**
	 * The link page URL for a token.
	 *
	 * @param string $link_token LINE link token.
	 * @return string
	 */
	public static function url_for( $link_token ) {
		return add_query_arg( self::QUERY_VAR, rawurlencode( $link_token ), home_url( '/' ) );
	}

	/**
	 * Handle `?orderchatz-link=`.
	 */
	public function handle() {
		if ( ! isset( $_GET[ self::QUERY_VAR ] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- entry point; the state change below checks a nonce.
			return;
		}
		nocache_headers();
		$link_token = sanitize_text_field( wp_unslash( $_GET[ self::QUERY_VAR ] ) ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		if ( ! preg_match( '/^[A-Za-z0-9_\-]{8,256}\z/', $link_token ) ) {
			$this->render_error( 400, __( 'This link is not valid.', 'orderchatz' ), __( 'Please open the latest link from our LINE chat again.', 'orderchatz' ) );
		}
		if ( ! is_user_logged_in() ) {
			wp_safe_redirect( wp_login_url( self::url_for( $link_token ) ) );
			exit;
		}
		if ( isset( $_SERVER['REQUEST_METHOD'] ) && 'POST' === $_SERVER['REQUEST_METHOD'] ) {
			check_admin_referer( self::NONCE_ACTION . '|' . $link_token );
			$this->link_and_redirect( $link_token );
		}
		$this->render_confirmation( $link_token );
	}

	/**
	 * Ask the sidecar for a nonce and go to LINE's dialog.
	 *
	 * @param string $link_token LINE link token.
	 */
	private function link_and_redirect( $link_token ) {
		$user     = wp_get_current_user();
		$response = $this->client->post_event(
			array(
				'event_id'     => 'link-' . bin2hex( random_bytes( 12 ) ),
				'type'         => 'link.nonce',
				'link_token'   => $link_token,
				'wp_user_id'   => (int) $user->ID,
				'email'        => (string) $user->user_email,
				'display_name' => (string) $user->display_name,
			),
			OrderChatz_Sidecar_Client::DEFAULT_TIMEOUT
		);
		$redirect = isset( $response->json['redirect_url'] ) && is_string( $response->json['redirect_url'] ) ? $response->json['redirect_url'] : '';
		if ( $response->is_success() && $this->is_allowed_redirect( $redirect ) ) {
			wp_redirect( $redirect ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect -- checked against LINE's host above.
			exit;
		}
		if ( self::is_link_token_refusal( $response ) ) {
			$this->render_error( 410, __( 'This link has expired.', 'orderchatz' ), __( 'Links are valid for 10 minutes and can be used once. Please ask for a new link in our LINE chat.', 'orderchatz' ) );
		}
		if ( $response->status || $response->transport_error ) {
			error_log( 'OrderChatz: account link failed: ' . $response->describe() ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		}
		$this->render_error( 503, __( 'We cannot link your account right now.', 'orderchatz' ), __( 'The service is temporarily unavailable. Please try again in a few minutes.', 'orderchatz' ), self::url_for( $link_token ) );
	}

	/**
	 * The sidecar refused the link token itself (unknown, expired or used), as opposed to refusing
	 * us (401/403: wrong shared secret), which is our misconfiguration, not the customer's.
	 *
	 * @param OrderChatz_Sidecar_Response $response The answer.
	 * @return bool
	 */
	private static function is_link_token_refusal( OrderChatz_Sidecar_Response $response ) {
		if ( ! $response->is_client_error() || in_array( $response->status, array( 401, 403 ), true ) ) {
			return false;
		}
		return 0 === strpos( $response->error_code(), 'link_token' ) || in_array( $response->status, array( 400, 404, 409, 410, 422 ), true );
	}

	/**
	 * Only LINE's dialog (https://access.line.me) or, for local set-ups with a LINE emulator, the
	 * sidecar's own host.
	 *
	 * @param string $url Candidate.
	 * @return bool
	 */
	private function is_allowed_redirect( $url ) {
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) || empty( $parts['scheme'] ) ) {
			return false;
		}
		$host   = strtolower( $parts['host'] );
		$scheme = strtolower( $parts['scheme'] );
		if ( self::LINE_HOST === $host ) {
			return 'https' === $scheme;
		}
		$sidecar_host = strtolower( (string) wp_parse_url( $this->settings->sidecar_url(), PHP_URL_HOST ) );
		return '' !== $sidecar_host && hash_equals( $sidecar_host, $host ) && in_array( $scheme, array( 'http', 'https' ), true );
	}

	/**
	 * "Link my LINE account to <user>?" page.
	 *
	 * @param string $link_token LINE link token.
	 */
	private function render_confirmation( $link_token ) {
		$user = wp_get_current_user();
		$body = '<p>' . esc_html(
			/* translators: %s: the customer's display name */
			sprintf( __( 'You are logged in as %s.', 'orderchatz' ), $user->display_name )
		) . '</p><p>' . esc_html__( 'Link this shop account to your LINE account, so we can send you order updates and answer you with your orders at hand?', 'orderchatz' ) . '</p>';
		$body .= '<form method="post" action="' . esc_url( self::url_for( $link_token ) ) . '">'
			. wp_nonce_field( self::NONCE_ACTION . '|' . $link_token, '_wpnonce', true, false )
			. '<p><button type="submit" class="orderchatz-button">' . esc_html__( 'Link my LINE account', 'orderchatz' ) . '</button></p></form>';
		$body .= '<p class="orderchatz-small"><a href="' . esc_url( wp_logout_url( self::url_for( $link_token ) ) ) . '">'
			/* translators: %s: the customer's display name */
			. esc_html( sprintf( __( 'Not %s? Log out', 'orderchatz' ), $user->display_name ) ) . '</a></p>';
		$this->render_page( 200, __( 'Link your LINE account', 'orderchatz' ), $body );
	}

	/**
	 * Friendly error page.
	 *
	 * @param int    $status    HTTP status.
	 * @param string $title     Headline.
	 * @param string $message   What to do.
	 * @param string $retry_url Optional "try again" link.
	 */
	private function render_error( $status, $title, $message, $retry_url = '' ) {
		$body = '<p>' . esc_html( $message ) . '</p>';
		if ( '' !== $retry_url ) {
			$body .= '<p><a class="orderchatz-button" href="' . esc_url( $retry_url ) . '">' . esc_html__( 'Try again', 'orderchatz' ) . '</a></p>';
		}
		$body .= '<p class="orderchatz-small"><a href="' . esc_url( home_url( '/' ) ) . '">' . esc_html__( 'Back to the shop', 'orderchatz' ) . '</a></p>';
		$this->render_page( $status, $title, $body );
	}

	/**
	 * A minimal standalone, mobile-friendly page (it opens in LINE's in-app browser).
	 *
	 * @param int    $status HTTP status.
	 * @param string $title  Headline (plain text).
	 * @param string $body   Escaped HTML.
	 */
	private function render_page( $status, $title, $body ) {
		status_header( $status );
		header( 'Content-Type: text/html; charset=utf-8' );
		header( 'X-Frame-Options: DENY' );
		header( 'Referrer-Policy: no-referrer' );
		printf(
			'<!DOCTYPE html><html lang="%1$s"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>%2$s</title>'
			. '<style>body{font-family:-apple-system,BlinkMacSystemFont,"Noto Sans TC","PingFang TC",sans-serif;background:#f5f6f7;color:#1d2327;margin:0;padding:24px}'
			. 'main{max-width:420px;margin:8vh auto;background:#fff;border-radius:12px;padding:24px;box-shadow:0 1px 4px rgba(0,0,0,.08)}'
			. 'h1{font-size:1.3em;margin-top:0}.orderchatz-button{display:inline-block;background:#06c755;color:#fff;border:0;border-radius:8px;padding:12px 20px;font-size:1em;text-decoration:none;cursor:pointer}'
			. '.orderchatz-small{font-size:.9em;color:#646970}</style></head><body><main><p class="orderchatz-small">%3$s</p><h1>%2$s</h1>%4$s</main></body></html>',
			esc_attr( str_replace( '_', '-', determine_locale() ) ),
			esc_html( $title ),
			esc_html( get_bloginfo( 'name' ) ),
			$body // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts above.
		);
		exit;
	}
}
