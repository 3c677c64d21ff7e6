<?php
/**
 * OrderChatz → Settings: sidecar URL, shared secret, status forwarding, connection test.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Settings API page. Changing where events and tokens go is an administrator's job, so the page
 * needs manage_options (options.php enforces the same for the option group).
 */
class OrderChatz_Settings_Page {

	const CAPABILITY   = 'manage_options';
	const PAGE_SLUG    = 'orderchatz-settings';
	const GROUP        = 'orderchatz_settings';
	const RESULT_CACHE = 'orderchatz_test_result_';

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
	 * Outbound queue.
	 *
	 * @var OrderChatz_Event_Queue
	 */
	private $queue;

	/**
	 * Constructor.
	 *
	 * @param OrderChatz_Settings       $settings Configuration.
	 * @param OrderChatz_Sidecar_Client $client   HTTP client.
	 * @param OrderChatz_Event_Queue    $queue    Outbound queue.
	 */
	public function __construct( OrderChatz_Settings $settings, OrderChatz_Sidecar_Client $client, OrderChatz_Event_Queue $queue ) {
		$this->settings = $settings;
		$this->client   = $client;
		$this->queue    = $queue;
	}

	/**
	 * Register admin hooks.
	 */
	public function add_hooks() {
		add_action( 'admin_menu', array( $this, 'register_page' ), 11 );
		add_action( 'admin_init', array( $this, 'register_settings' ) );
		add_action( 'admin_post_orderchatz_test_connection', array( $this, 'handle_test_connection' ) );
		add_action( 'admin_post_orderchatz_retry_events', array( $this, 'handle_retry_events' ) );
	}

	/**
	 * Submenu under OrderChatz.
	 */
	public function register_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		add_submenu_page( OrderChatz_Admin_Menu::PAGE_SLUG, __( 'OrderChatz settings', 'orderchatz' ), __( 'Settings', 'orderchatz' ), self::CAPABILITY, self::PAGE_SLUG, array( $this, 'render' ) );
	}

	/**
	 * Settings API registration.
	 */
	public function register_settings() {
		register_setting(
			self::GROUP,
			OrderChatz_Settings::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( $this, 'sanitize' ),
				'default'           => OrderChatz_Settings::defaults(),
				'show_in_rest'      => false,
			)
		);
		add_settings_section( 'orderchatz_connection', __( 'Connection to the sidecar', 'orderchatz' ), '__return_false', self::PAGE_SLUG );
		add_settings_field( 'orderchatz_sidecar_url', __( 'Sidecar URL', 'orderchatz' ), array( $this, 'render_url_field' ), self::PAGE_SLUG, 'orderchatz_connection', array( 'label_for' => 'orderchatz_sidecar_url' ) );
		add_settings_field( 'orderchatz_shared_secret', __( 'Shared secret', 'orderchatz' ), array( $this, 'render_secret_field' ), self::PAGE_SLUG, 'orderchatz_connection', array( 'label_for' => 'orderchatz_shared_secret' ) );
		add_settings_field( 'orderchatz_forward_status_changes', __( 'Order status changes', 'orderchatz' ), array( $this, 'render_forward_field' ), self::PAGE_SLUG, 'orderchatz_connection' );
	}

	/**
	 * Sanitise a submitted form. Invalid values are refused with a message and the saved value kept.
	 *
	 * @param mixed $input Submitted values.
	 * @return array
	 */
	public function sanitize( $input ) {
		$saved = $this->settings->stored();
		$input = is_array( $input ) ? $input : array();
		$clean = $saved;

		if ( ! $this->settings->url_is_constant() && isset( $input['sidecar_url'] ) ) {
			$url = untrailingslashit( trim( sanitize_text_field( wp_unslash( $input['sidecar_url'] ) ) ) );
			$error = self::url_error( $url );
			if ( '' !== $error ) {
				self::refuse( 'orderchatz_sidecar_url', $error );
			} else {
				$clean['sidecar_url'] = '' === $url ? '' : esc_url_raw( $url, array( 'http', 'https' ) );
			}
		}

		if ( ! $this->settings->secret_is_constant() && isset( $input['shared_secret'] ) ) {
			$secret = trim( (string) wp_unslash( $input['shared_secret'] ) );
			if ( '' === $secret ) {
				$secret = (string) $saved['shared_secret']; // Empty field: keep the saved secret.
			} elseif ( strlen( $secret ) < OrderChatz_Settings::MIN_SECRET_LENGTH || preg_match( '/[\x00-\x1f\x7f]/', $secret ) ) {
				/* translators: %d: minimum length */
				self::refuse( 'orderchatz_shared_secret', sprintf( __( 'The shared secret must be at least %d characters without control characters. The saved secret was kept.', 'orderchatz' ), OrderChatz_Settings::MIN_SECRET_LENGTH ) );
				$secret = (string) $saved['shared_secret'];
			}
			$clean['shared_secret'] = $secret;
		}

		$clean['forward_status_changes'] = ! empty( $input['forward_status_changes'] );
		return $clean;
	}

	/**
	 * Report a refused value on the settings screen. The sanitiser also runs outside wp-admin
	 * (update_option() from code), where the Settings API's template functions are not loaded.
	 *
	 * @param string $code    Error code.
	 * @param string $message Plain text.
	 */
	private static function refuse( $code, $message ) {
		if ( ! function_exists( 'add_settings_error' ) ) {
			require_once ABSPATH . 'wp-admin/includes/template.php';
		}
		add_settings_error( self::GROUP, $code, $message );
	}

	/**
	 * Why a sidecar URL is refused, or ''.
	 *
	 * @param string $url Candidate URL ('' clears the setting).
	 * @return string
	 */
	public static function url_error( $url ) {
		if ( '' === $url ) {
			return '';
		}
		$parts = wp_parse_url( $url );
		if ( ! is_array( $parts ) || empty( $parts['host'] ) || ! in_array( strtolower( isset( $parts['scheme'] ) ? $parts['scheme'] : '' ), array( 'http', 'https' ), true ) ) {
			return __( 'The sidecar URL must be an absolute http:// or https:// URL. The saved URL was kept.', 'orderchatz' );
		}
		if ( isset( $parts['query'] ) || isset( $parts['fragment'] ) || isset( $parts['user'] ) ) {
			return __( 'The sidecar URL must not contain a query, a fragment or credentials. The saved URL was kept.', 'orderchatz' );
		}
		if ( OrderChatz_Settings::is_mixed_content( $url ) ) {
			return __( 'This admin runs on https, so the sidecar URL must be https too (browsers block http frames on https pages as mixed content). The saved URL was kept.', 'orderchatz' );
		}
		return '';
	}

	/**
	 * Sidecar URL field.
	 */
	public function render_url_field() {
		if ( $this->settings->url_is_constant() ) {
			printf( '<input type="url" id="orderchatz_sidecar_url" class="regular-text code" value="%s" readonly> <p class="description">%s</p>', esc_attr( $this->settings->sidecar_url() ), esc_html__( 'Set by ORDERCHATZ_SIDECAR_URL in wp-config.php.', 'orderchatz' ) );
			return;
		}
		printf(
			'<input type="url" id="orderchatz_sidecar_url" name="%1$s[sidecar_url]" class="regular-text code" value="%2$s" placeholder="https://chat.example.com"> <p class="description">%3$s</p>',
			esc_attr( OrderChatz_Settings::OPTION ),
			esc_attr( $this->settings->sidecar_url() ),
			esc_html__( 'Where the OrderChatz sidecar is served, e.g. https://chat.example.com.', 'orderchatz' )
		);
	}

	/**
	 * Shared secret field: never shows the secret, only a masked hint.
	 */
	public function render_secret_field() {
		$masked = $this->settings->masked_secret();
		if ( $this->settings->secret_is_constant() ) {
			printf( '<code id="orderchatz_shared_secret" class="orderchatz-masked-secret">%s</code> <p class="description">%s</p>', esc_html( $masked ), esc_html__( 'Set by ORDERCHATZ_SHARED_SECRET in wp-config.php.', 'orderchatz' ) );
			return;
		}
		printf(
			'<input type="password" id="orderchatz_shared_secret" name="%1$s[shared_secret]" class="regular-text code" value="" autocomplete="new-password" spellcheck="false"> ',
			esc_attr( OrderChatz_Settings::OPTION )
		);
		if ( '' !== $masked ) {
			/* translators: %s: masked secret such as ••••••••abcd */
			echo '<p class="description">' . esc_html( sprintf( __( 'Saved: %s. Leave empty to keep it.', 'orderchatz' ), $masked ) ) . '</p>';
		} else {
			/* translators: %d: minimum length */
			echo '<p class="description">' . esc_html( sprintf( __( 'The same value as the sidecar\'s ORDERCHATZ_SHARED_SECRET, at least %d characters.', 'orderchatz' ), OrderChatz_Settings::MIN_SECRET_LENGTH ) ) . '</p>';
		}
	}

	/**
	 * Status forwarding checkbox.
	 */
	public function render_forward_field() {
		printf(
			'<label><input type="checkbox" name="%1$s[forward_status_changes]" value="1" %2$s> %3$s</label><p class="description">%4$s</p>',
			esc_attr( OrderChatz_Settings::OPTION ),
			checked( $this->settings->forward_status_changes(), true, false ),
			esc_html__( 'Forward order status changes to OrderChatz', 'orderchatz' ),
			esc_html__( 'Notes to the customer are always forwarded; private notes never are.', 'orderchatz' )
		);
	}

	/**
	 * The page.
	 */
	public function render() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to access this page.', 'orderchatz' ), 403 );
		}
		echo '<div class="wrap"><h1>' . esc_html__( 'OrderChatz settings', 'orderchatz' ) . '</h1>';
		settings_errors( self::GROUP );
		$this->render_test_result();

		echo '<form method="post" action="' . esc_url( admin_url( 'options.php' ) ) . '">';
		settings_fields( self::GROUP );
		do_settings_sections( self::PAGE_SLUG );
		submit_button();
		echo '</form>';

		echo '<h2>' . esc_html__( 'Test the connection', 'orderchatz' ) . '</h2>';
		echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '">';
		echo '<input type="hidden" name="action" value="orderchatz_test_connection">';
		wp_nonce_field( 'orderchatz_test_connection' );
		submit_button( __( 'Test connection', 'orderchatz' ), 'secondary', 'orderchatz-test-connection', false );
		echo '</form>';

		if ( '' !== $this->settings->line_webhook_url() ) {
			echo '<h2>' . esc_html__( 'LINE webhook URL', 'orderchatz' ) . '</h2>';
			printf(
				'<p>%1$s</p><input type="text" id="orderchatz-line-webhook-url" class="large-text code" readonly value="%2$s" onfocus="this.select()">',
				esc_html__( 'Paste this into the LINE Developers console (Messaging API → Webhook URL) and turn "Use webhook" on.', 'orderchatz' ),
				esc_attr( $this->settings->line_webhook_url() )
			);
		}
		$this->render_queue_status();
		echo '</div>';
	}

	/**
	 * admin-post.php?action=orderchatz_test_connection.
	 */
	public function handle_test_connection() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'orderchatz' ), 403 );
		}
		check_admin_referer( 'orderchatz_test_connection' );
		set_transient( self::RESULT_CACHE . get_current_user_id(), $this->diagnose( $this->client->check_ready() ), 5 * MINUTE_IN_SECONDS );
		wp_safe_redirect( admin_url( 'admin.php?page=' . self::PAGE_SLUG . '&orderchatz-tested=1' ) );
		exit;
	}

	/**
	 * admin-post.php?action=orderchatz_retry_events.
	 */
	public function handle_retry_events() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'orderchatz' ), 403 );
		}
		check_admin_referer( 'orderchatz_retry_events' );
		$this->queue->retry_dead();
		wp_safe_redirect( admin_url( 'admin.php?page=' . self::PAGE_SLUG ) );
		exit;
	}

	/**
	 * Turn a /readyz answer into a verdict and the list of what is wrong.
	 *
	 * @param OrderChatz_Sidecar_Response $response The answer.
	 * @return array{ok: bool, problems: string[]}
	 */
	public function diagnose( OrderChatz_Sidecar_Response $response ) {
		$problems = array();
		if ( ! $this->settings->is_configured() ) {
			$problems[] = __( 'The sidecar URL or the shared secret is not set.', 'orderchatz' );
		} elseif ( 0 === $response->status ) {
			/* translators: 1: sidecar URL 2: error text */
			$problems[] = sprintf( __( 'Could not reach the sidecar at %1$s: %2$s', 'orderchatz' ), $this->settings->sidecar_url(), $response->transport_error );
		} else {
			$json = $response->json;
			if ( isset( $json['signature'] ) && 'valid' !== $json['signature'] ) {
				$problems[] = __( 'The sidecar refused our signature: the shared secret here differs from the sidecar\'s ORDERCHATZ_SHARED_SECRET.', 'orderchatz' );
			}
			foreach ( array(
				'db'    => __( 'The sidecar cannot reach its database.', 'orderchatz' ),
				'redis' => __( 'The sidecar cannot reach Redis.', 'orderchatz' ),
			) as $part => $message ) {
				if ( isset( $json[ $part ] ) && 'ok' !== $json[ $part ] ) {
					$problems[] = $message;
				}
			}
			if ( ! $problems && ! $response->is_success() ) {
				/* translators: %s: HTTP status and error */
				$problems[] = sprintf( __( 'The sidecar answered %s.', 'orderchatz' ), $response->describe() );
			}
			if ( $response->is_success() && ! isset( $json['signature'] ) ) {
				$problems[] = __( 'The sidecar did not confirm the shared secret (is it an older version?).', 'orderchatz' );
			}
		}
		return array(
			'ok'       => ! $problems,
			'problems' => $problems,
		);
	}

	/**
	 * Result of the last test connection by this user.
	 */
	private function render_test_result() {
		if ( ! isset( $_GET['orderchatz-tested'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- display only.
			return;
		}
		$result = get_transient( self::RESULT_CACHE . get_current_user_id() );
		if ( ! is_array( $result ) ) {
			return;
		}
		if ( $result['ok'] ) {
			echo '<div class="notice notice-success orderchatz-test-result"><p>' . esc_html__( 'Connected: the sidecar is ready and accepts our shared secret.', 'orderchatz' ) . '</p></div>';
			return;
		}
		echo '<div class="notice notice-error orderchatz-test-result"><p>' . esc_html__( 'The connection test failed:', 'orderchatz' ) . '</p><ul>';
		foreach ( (array) $result['problems'] as $problem ) {
			echo '<li>' . esc_html( $problem ) . '</li>';
		}
		echo '</ul></div>';
	}

	/**
	 * Undelivered events, with a retry button for the ones given up on.
	 */
	private function render_queue_status() {
		$counts = $this->queue->counts();
		if ( ! $counts['pending'] && ! $counts['dead'] ) {
			return;
		}
		echo '<h2>' . esc_html__( 'Events waiting for the sidecar', 'orderchatz' ) . '</h2><p>';
		/* translators: 1: events being retried 2: events given up on */
		echo esc_html( sprintf( __( '%1$d being retried, %2$d given up after 48 hours.', 'orderchatz' ), $counts['pending'], $counts['dead'] ) );
		echo '</p>';
		if ( $counts['dead'] ) {
			echo '<form method="post" action="' . esc_url( admin_url( 'admin-post.php' ) ) . '"><input type="hidden" name="action" value="orderchatz_retry_events">';
			wp_nonce_field( 'orderchatz_retry_events' );
			submit_button( __( 'Retry them now', 'orderchatz' ), 'secondary', 'orderchatz-retry-events', false );
			echo '</form>';
		}
	}
}
