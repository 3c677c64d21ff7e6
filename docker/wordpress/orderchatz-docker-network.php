<?php
/**
 * Plugin Name: OrderChatz docker-compose network map
 * Description: Lets WordPress reach the sidecar and itself by their browser-facing URLs inside docker-compose.
 *
 * Deployment glue, mounted as a must-use plugin by docker-compose.yml only.
 *
 * Inside the stack the browser-facing URLs (http://localhost:8000 for the sidecar,
 * http://localhost:8080 for the shop) point at the host, not at a container. The OrderChatz plugin
 * has one sidecar URL, used both by the admin page's iframe (browser) and by its server-side calls
 * (signed events, "test connection"), and WP-Cron / Action Scheduler call the site's own URL. So
 * instead of rewriting URLs, this tells cURL which address to connect to (CURLOPT_CONNECT_TO), like
 * an /etc/hosts entry with ports: URL, Host header and signatures stay exactly as they were.
 *
 * ORDERCHATZ_DOCKER_CONNECT_TO: space-separated "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT" entries.
 *
 * @link https://curl.se/libcurl/c/CURLOPT_CONNECT_TO.html
 * @link https://developer.wordpress.org/reference/hooks/http_api_curl/
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

add_action(
	'http_api_curl',
	static function ( $handle ) {
		$entries = preg_split( '/\s+/', trim( (string) getenv( 'ORDERCHATZ_DOCKER_CONNECT_TO' ) ), -1, PREG_SPLIT_NO_EMPTY );
		if ( $entries && defined( 'CURLOPT_CONNECT_TO' ) ) {
			curl_setopt( $handle, CURLOPT_CONNECT_TO, $entries ); // phpcs:ignore WordPress.WP.AlternativeFunctions.curl_curl_setopt -- the hook hands us the cURL handle.
		}
	}
);
