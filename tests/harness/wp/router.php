<?php
/**
 * Router for `php -S` serving a test WordPress (TEST-ONLY, never deployed).
 *
 * Existing files (static assets and PHP entry points such as wp-login.php or
 * wp-admin/admin.php) are served as they are; every other path goes to
 * index.php, as Apache's WordPress rewrite rules would do.
 */
$orderchatz_test_path = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH );
$orderchatz_test_file = $_SERVER['DOCUMENT_ROOT'] . $orderchatz_test_path;
if ( '/' !== $orderchatz_test_path && file_exists( $orderchatz_test_file ) ) {
	if ( is_dir( $orderchatz_test_file ) && ! file_exists( rtrim( $orderchatz_test_file, '/' ) . '/index.php' ) ) {
		http_response_code( 404 );
		return true;
	}
	return false;
}
$_SERVER['SCRIPT_NAME']     = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['DOCUMENT_ROOT'] . '/index.php';
require $_SERVER['DOCUMENT_ROOT'] . '/index.php';
