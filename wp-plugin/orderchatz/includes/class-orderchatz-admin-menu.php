<?php
/**
 * The "OrderChatz" admin menu with its unread badge, and the page that frames the panel.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * Top-level menu for users who can manage_woocommerce (shop managers and administrators).
 */
class OrderChatz_Admin_Menu {

	const CAPABILITY      = 'manage_woocommerce';
	const PAGE_SLUG       = 'orderchatz';
	const UNREAD_CACHE    = 'orderchatz_unread';
	const UNREAD_CACHE_TTL = 60;

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
	 * Token minting.
	 *
	 * @var OrderChatz_Panel_Token
	 */
	private $tokens;

	/**
	 * Token minted for this page view (same one in the iframe URL and the script config).
	 *
	 * @var array|null
	 */
	private $page_token;

	/**
	 * Hook suffix of the panel page.
	 *
	 * @var string
	 */
	private $hook_suffix = '';

	/**
	 * Constructor.
	 *
	 * @param OrderChatz_Settings    $settings Configuration.
	 * @param OrderChatz_Woo         $woo      WooCommerce helpers.
	 * @param OrderChatz_Panel_Token $tokens   Token minting.
	 */
	public function __construct( OrderChatz_Settings $settings, OrderChatz_Woo $woo, OrderChatz_Panel_Token $tokens ) {
		$this->settings = $settings;
		$this->woo      = $woo;
		$this->tokens   = $tokens;
	}

	/**
	 * Register admin hooks.
	 */
	public function add_hooks() {
		add_action( 'admin_menu', array( $this, 'register_menu' ), 9 );
		add_action( 'admin_enqueue_scripts', array( $this, 'enqueue_assets' ) );
	}

	/**
	 * Add the menu. WordPress itself refuses admin.php?page=orderchatz to users without the
	 * capability; render_panel_page() checks again.
	 */
	public function register_menu() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$this->hook_suffix = (string) add_menu_page(
			__( 'OrderChatz', 'orderchatz' ),
			esc_html__( 'OrderChatz', 'orderchatz' ) . $this->badge_html(),
			self::CAPABILITY,
			self::PAGE_SLUG,
			array( $this, 'render_panel_page' ),
			'dashicons-format-chat',
			56
		);
		add_submenu_page( self::PAGE_SLUG, __( 'Conversations', 'orderchatz' ), __( 'Conversations', 'orderchatz' ), self::CAPABILITY, self::PAGE_SLUG, array( $this, 'render_panel_page' ) );
		add_action( 'load-' . $this->hook_suffix, array( $this, 'prepare_panel_page' ) );
	}

	/**
	 * The cached unread count, or null when unknown (nothing cached or the sidecar was unreachable).
	 *
	 * @return int|null
	 */
	public static function cached_unread() {
		$cached = get_transient( self::UNREAD_CACHE );
		return is_array( $cached ) && isset( $cached['count'] ) && is_int( $cached['count'] ) ? $cached['count'] : null;
	}

	/**
	 * Whether anything (even a failure) is cached: then the badge script is not needed.
	 *
	 * @return bool
	 */
	public static function unread_is_cached() {
		return is_array( get_transient( self::UNREAD_CACHE ) );
	}

	/**
	 * Store the unread count (null caches a failure for the same TTL so a down sidecar costs one
	 * short request per minute, not one per admin page).
	 *
	 * @param int|null $count Unread conversations.
	 */
	public static function cache_unread( $count ) {
		set_transient( self::UNREAD_CACHE, array( 'count' => null === $count ? null : max( 0, (int) $count ) ), self::UNREAD_CACHE_TTL );
	}

	/**
	 * WordPress's standard menu count bubble. Always present (hidden at 0) so scripts can update it.
	 *
	 * @return string
	 */
	private function badge_html() {
		$count = (int) self::cached_unread();
		return sprintf(
			' <span class="awaiting-mod count-%1$d orderchatz-unread-badge"%2$s><span class="pending-count" aria-hidden="true">%1$d</span><span class="screen-reader-text">%3$s</span></span>',
			$count,
			$count > 0 ? '' : ' style="display:none"',
			esc_html__( 'unread conversations', 'orderchatz' )
		);
	}

	/**
	 * `load-` hook of the panel page: mint the token before any output.
	 */
	public function prepare_panel_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to access this page.', 'orderchatz' ), 403 );
		}
		if ( $this->settings->is_configured() && ! OrderChatz_Settings::is_mixed_content( $this->settings->sidecar_url() ) ) {
			$this->page_token = $this->tokens->mint_for( wp_get_current_user() );
		}
	}

	/**
	 * Scripts: the panel bridge on our page, the badge refresher elsewhere when nothing is cached.
	 *
	 * @param string $hook_suffix Current admin page.
	 */
	public function enqueue_assets( $hook_suffix ) {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			return;
		}
		$base = plugins_url( 'assets/', ORDERCHATZ_PLUGIN_FILE );
		if ( $hook_suffix === $this->hook_suffix && $this->page_token ) {
			wp_enqueue_style( 'orderchatz-admin', $base . 'css/orderchatz-admin.css', array(), ORDERCHATZ_VERSION );
			wp_enqueue_script( 'orderchatz-panel', $base . 'js/orderchatz-panel.js', array(), ORDERCHATZ_VERSION, true );
			wp_add_inline_script( 'orderchatz-panel', 'window.orderchatzPanel = ' . wp_json_encode( $this->panel_config() ) . ';', 'before' );
			return;
		}
		if ( $this->settings->is_configured() && ! self::unread_is_cached() ) {
			wp_enqueue_script( 'orderchatz-badge', $base . 'js/orderchatz-badge.js', array(), ORDERCHATZ_VERSION, true );
			wp_add_inline_script(
				'orderchatz-badge',
				'window.orderchatzBadge = ' . wp_json_encode(
					array(
						'unreadUrl' => esc_url_raw( rest_url( 'orderchatz/v1/unread' ) ),
						'restNonce' => wp_create_nonce( 'wp_rest' ),
					)
				) . ';',
				'before'
			);
		}
	}

	/**
	 * Everything the parent-side script needs. No secret in here, only the short-lived token.
	 *
	 * @return array
	 */
	private function panel_config() {
		return array(
			'sidecarOrigin'           => $this->settings->sidecar_origin(),
			'frameId'                 => 'orderchatz-panel-frame',
			'token'                   => $this->page_token['token'],
			'expiresAt'               => $this->page_token['expires_at'],
			'tokenUrl'                => esc_url_raw( rest_url( 'orderchatz/v1/token' ) ),
			'restNonce'               => wp_create_nonce( 'wp_rest' ),
			'orderEditUrlTemplate'    => $this->woo->order_edit_url_template(),
			'customerEditUrlTemplate' => $this->woo->customer_edit_url_template(),
			'i18n'                    => array(
				'sessionExpired' => __( 'Your WordPress session has expired. Reload this page to keep chatting.', 'orderchatz' ),
			),
		);
	}

	/**
	 * The deep-linked LINE user id from `&friend=`, or '' when absent or malformed.
	 *
	 * @return string
	 */
	public static function requested_friend() {
		if ( ! isset( $_GET['friend'] ) ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- read-only deep link.
			return '';
		}
		$friend = sanitize_text_field( wp_unslash( $_GET['friend'] ) ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		// LINE user ids are "U" followed by 32 hex digits.
		return preg_match( '/^U[0-9a-f]{32}\z/i', $friend ) ? $friend : '';
	}

	/**
	 * The iframe URL. The token travels in the fragment, which browsers never send to a server
	 * or put in a Referer header.
	 *
	 * @param string $token  Panel JWT.
	 * @param string $friend LINE user id or ''.
	 * @return string
	 */
	public function panel_src( $token, $friend ) {
		$fragment = array( 'token' => $token );
		if ( '' !== $friend ) {
			$fragment['friend'] = $friend;
		}
		$fragment['origin'] = OrderChatz_Settings::origin_of( admin_url() );
		return $this->settings->sidecar_url() . '/panel#' . http_build_query( $fragment, '', '&', PHP_QUERY_RFC3986 );
	}

	/**
	 * The panel page.
	 */
	public function render_panel_page() {
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to access this page.', 'orderchatz' ), 403 );
		}
		echo '<div class="wrap orderchatz-wrap">';
		echo '<h1 class="screen-reader-text">' . esc_html__( 'OrderChatz', 'orderchatz' ) . '</h1>';
		if ( ! $this->settings->is_configured() ) {
			$this->render_notice( __( 'OrderChatz is not connected yet: set the sidecar URL and the shared secret first.', 'orderchatz' ) );
		} elseif ( OrderChatz_Settings::is_mixed_content( $this->settings->sidecar_url() ) ) {
			$this->render_notice( __( 'This admin runs on https but the sidecar URL is http: browsers block that as mixed content. Serve the sidecar over https.', 'orderchatz' ) );
		} elseif ( ! $this->page_token ) {
			$this->render_notice( __( 'Could not create a panel token for your account.', 'orderchatz' ) );
		} else {
			printf(
				'<iframe id="orderchatz-panel-frame" class="orderchatz-panel-frame" title="%1$s" src="%2$s" referrerpolicy="origin" allow="clipboard-write" onload="this.dataset.loaded = \'1\'"></iframe>',
				esc_attr__( 'OrderChatz conversations', 'orderchatz' ),
				esc_url( $this->panel_src( $this->page_token['token'], self::requested_friend() ) )
			);
			echo '<div id="orderchatz-panel-error" class="notice notice-error inline" hidden><p></p></div>';
		}
		echo '</div>';
	}

	/**
	 * An error notice, with a settings link for administrators.
	 *
	 * @param string $message Plain text.
	 */
	private function render_notice( $message ) {
		echo '<div class="notice notice-warning inline"><p>' . esc_html( $message );
		if ( current_user_can( 'manage_options' ) ) {
			printf( ' <a href="%s">%s</a>', esc_url( admin_url( 'admin.php?page=' . OrderChatz_Settings_Page::PAGE_SLUG ) ), esc_html__( 'Open the OrderChatz settings', 'orderchatz' ) );
		}
		echo '</p></div>';
	}
}
