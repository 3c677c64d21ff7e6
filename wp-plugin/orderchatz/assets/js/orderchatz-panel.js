/**
 * Parent side of the OrderChatz panel bridge (runs on admin.php?page=orderchatz).
 *
 * Protocol (window.postMessage, objects with a `type`):
 *   panel → parent: orderchatz:ready, orderchatz:token-request, orderchatz:open-order {order_id},
 *                   orderchatz:open-customer {customer_id}, orderchatz:unread {count}
 *   parent → panel: orderchatz:token {token, expires_at}
 * Messages are accepted only from the iframe's window at the exact sidecar origin, and posted
 * only to that origin, so no other frame or site can obtain a token.
 */
( function () {
	'use strict';

	var config = window.orderchatzPanel;
	var frame = config && document.getElementById( config.frameId );
	if ( ! frame ) {
		return;
	}
	var REUSE_MARGIN_SECONDS = 60;
	var current = { token: config.token, expiresAt: config.expiresAt };
	var pendingRefresh = null;

	function nowSeconds() {
		return Math.floor( Date.now() / 1000 );
	}

	function postToPanel( message ) {
		if ( frame.contentWindow ) {
			frame.contentWindow.postMessage( message, config.sidecarOrigin );
		}
	}

	function sendToken( token ) {
		postToPanel( { type: 'orderchatz:token', token: token.token, expires_at: token.expiresAt } );
	}

	function showError( text ) {
		var box = document.getElementById( 'orderchatz-panel-error' );
		if ( box ) {
			box.querySelector( 'p' ).textContent = text;
			box.hidden = false;
		}
	}

	// One request at a time; concurrent token requests share it.
	function refreshToken() {
		if ( pendingRefresh ) {
			return pendingRefresh;
		}
		pendingRefresh = fetch( config.tokenUrl, {
			method: 'POST',
			credentials: 'same-origin',
			headers: { 'X-WP-Nonce': config.restNonce, Accept: 'application/json' }
		} ).then( function ( response ) {
			if ( ! response.ok ) {
				throw new Error( 'HTTP ' + response.status );
			}
			return response.json();
		} ).then( function ( body ) {
			current = { token: body.token, expiresAt: body.expires_at };
			return current;
		} ).finally( function () {
			pendingRefresh = null;
		} );
		return pendingRefresh;
	}

	function positiveId( value ) {
		var text = String( value );
		return /^[1-9][0-9]{0,18}$/.test( text ) ? text : null;
	}

	function openAdminUrl( template, id, newTab ) {
		var safeId = positiveId( id );
		if ( ! safeId ) {
			return;
		}
		var url = template.replace( '{id}', safeId );
		if ( newTab ) {
			window.open( url, '_blank', 'noopener' );
		} else {
			window.location.assign( url );
		}
	}

	function updateBadges( count ) {
		var value = parseInt( count, 10 );
		if ( isNaN( value ) || value < 0 ) {
			return;
		}
		document.querySelectorAll( '.orderchatz-unread-badge' ).forEach( function ( badge ) {
			badge.className = badge.className.replace( /\bcount-\d+\b/, 'count-' + value );
			badge.querySelector( '.pending-count' ).textContent = String( value );
			badge.style.display = value > 0 ? '' : 'none';
		} );
	}

	function handleTokenNeed( forceFresh ) {
		if ( ! forceFresh && current.token && current.expiresAt - nowSeconds() > REUSE_MARGIN_SECONDS ) {
			sendToken( current );
			return;
		}
		refreshToken().then( sendToken, function () {
			showError( config.i18n.sessionExpired );
		} );
	}

	window.addEventListener( 'message', function ( event ) {
		if ( event.origin !== config.sidecarOrigin || event.source !== frame.contentWindow ) {
			return;
		}
		var data = event.data;
		if ( ! data || typeof data !== 'object' || typeof data.type !== 'string' ) {
			return;
		}
		switch ( data.type ) {
			case 'orderchatz:ready':
				handleTokenNeed( false );
				break;
			case 'orderchatz:token-request':
				handleTokenNeed( true );
				break;
			case 'orderchatz:open-order':
				openAdminUrl( config.orderEditUrlTemplate, data.order_id, data.new_tab === true );
				break;
			case 'orderchatz:open-customer':
				openAdminUrl( config.customerEditUrlTemplate, data.customer_id, data.new_tab === true );
				break;
			case 'orderchatz:unread':
				updateBadges( data.count );
				break;
		}
	} );

	// Fill the admin content area: from the frame's top edge to the bottom of the viewport.
	function fitFrame() {
		var top = frame.getBoundingClientRect().top + window.pageYOffset;
		frame.style.height = Math.max( 400, window.innerHeight - top - 8 ) + 'px';
	}
	window.addEventListener( 'resize', fitFrame );
	fitFrame();

	// This script runs in the footer, after the iframe tag: a panel that loaded first may have
	// announced `ready` before the listener above existed (the tag's onload marks that case).
	if ( frame.dataset.loaded === '1' ) {
		handleTokenNeed( false );
	}
}() );
