/**
 * Order screen meta box: asks our REST route whether the order's customer is bound to a LINE
 * friend and points the button at that conversation.
 */
( function () {
	'use strict';

	var config = window.orderchatzMetaBox;
	var box = document.querySelector( '.orderchatz-binding' );
	if ( ! config || ! box || ! window.fetch ) {
		return;
	}
	var status = box.querySelector( '.orderchatz-binding-status' );
	var button = box.querySelector( '.orderchatz-open-conversation' );
	var url = config.bindingUrl + ( config.bindingUrl.indexOf( '?' ) === -1 ? '?' : '&' ) +
		'order_id=' + encodeURIComponent( box.getAttribute( 'data-order-id' ) );

	fetch( url, {
		credentials: 'same-origin',
		headers: { 'X-WP-Nonce': config.restNonce, Accept: 'application/json' }
	} ).then( function ( response ) {
		if ( ! response.ok ) {
			throw new Error( 'HTTP ' + response.status );
		}
		return response.json();
	} ).then( function ( body ) {
		if ( ! body.bound || ! body.friends.length ) {
			status.textContent = config.i18n.notBound;
			return;
		}
		var names = body.friends.map( function ( friend ) {
			return friend.display_name || friend.line_user_id;
		} ).join( ', ' );
		status.textContent = config.i18n.bound.replace( '%s', names );
		button.href = body.friends[ 0 ].panel_url;
		button.textContent = config.i18n.openChat;
		button.classList.add( 'button-primary' );
	} ).catch( function () {
		status.textContent = config.i18n.unavailable;
	} );
}() );
