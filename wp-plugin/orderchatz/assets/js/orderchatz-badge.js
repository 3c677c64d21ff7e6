/**
 * Fills the OrderChatz menu badge after the page has loaded, so fetching the unread count from
 * the sidecar never delays an admin screen. Only enqueued when no count is cached.
 */
( function () {
	'use strict';

	var config = window.orderchatzBadge;
	if ( ! config || ! window.fetch ) {
		return;
	}
	fetch( config.unreadUrl, {
		credentials: 'same-origin',
		headers: { 'X-WP-Nonce': config.restNonce, Accept: 'application/json' }
	} ).then( function ( response ) {
		return response.ok ? response.json() : null;
	} ).then( function ( body ) {
		if ( ! body ) {
			return;
		}
		var count = parseInt( body.unread_conversations, 10 );
		if ( isNaN( count ) || count < 0 ) {
			return;
		}
		document.querySelectorAll( '.orderchatz-unread-badge' ).forEach( function ( badge ) {
			badge.className = badge.className.replace( /\bcount-\d+\b/, 'count-' + count );
			badge.querySelector( '.pending-count' ).textContent = String( count );
			badge.style.display = count > 0 ? '' : 'none';
		} );
	} ).catch( function () {} );
}() );
