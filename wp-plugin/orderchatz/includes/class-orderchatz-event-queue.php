<?php
/**
 * Durable, retried, at-most-once-per-success delivery of events to the sidecar.
 *
 * Each event is stored as a non-autoloaded option keyed by its `event_id` before anything is
 * scheduled, so a lost cron entry or a sidecar that is down for hours loses nothing: the sweeper
 * re-schedules whatever is overdue. Delivery runs in the background (Action Scheduler when
 * WooCommerce provides it, WP-Cron otherwise), never in the request that created the event.
 *
 * Response policy: 2xx (`accepted` / `duplicate`) and 409 mean done. 5xx, timeouts and refused
 * connections retry with exponential backoff (1, 2, 4, 8 minutes, then every 15). Other 4xx
 * (typically a wrong shared secret) are logged and retried every 15 minutes so fixing the
 * configuration heals the queue. After MAX_AGE the event is kept but marked dead and shown on the
 * settings page, where it can be retried.
 *
 * @package OrderChatz
 */

defined( 'ABSPATH' ) || exit;

/**
 * The outbound event queue.
 */
class OrderChatz_Event_Queue {

	const DELIVER_HOOK   = 'orderchatz_deliver_event';
	const SWEEP_HOOK     = 'orderchatz_sweep_events';
	const SWEEP_SCHEDULE = 'orderchatz_quarter_hour';
	const GROUP          = 'orderchatz';
	const OPTION_PREFIX  = 'orderchatz_event_';
	const LOCK_PREFIX    = 'orderchatz_lock_';
	const FIRST_DELAY    = 60;
	const MAX_DELAY      = 900;
	const LOCK_TTL       = 120;
	const MAX_AGE        = 172800;

	/**
	 * HTTP client.
	 *
	 * @var OrderChatz_Sidecar_Client
	 */
	private $client;

	/**
	 * Constructor.
	 *
	 * @param OrderChatz_Sidecar_Client $client HTTP client.
	 */
	public function __construct( OrderChatz_Sidecar_Client $client ) {
		$this->client = $client;
	}

	/**
	 * Register the background handlers.
	 */
	public function add_hooks() {
		add_action( self::DELIVER_HOOK, array( $this, 'deliver' ), 10, 1 );
		add_action( self::SWEEP_HOOK, array( $this, 'sweep' ) );
	}

	/**
	 * Adds the sweeper's 15-minute WP-Cron interval.
	 *
	 * @param array $schedules Known schedules.
	 * @return array
	 */
	public static function add_cron_schedule( $schedules ) {
		$schedules[ self::SWEEP_SCHEDULE ] = array(
			'interval' => 15 * MINUTE_IN_SECONDS,
			'display'  => __( 'Every 15 minutes (OrderChatz)', 'orderchatz' ),
		);
		return $schedules;
	}

	/**
	 * Store an event and schedule its delivery. An `event_id` already queued is ignored.
	 *
	 * @param array $event Event body with a unique `event_id`.
	 * @return bool Whether the event was newly queued.
	 */
	public function enqueue( array $event ) {
		$event_id = isset( $event['event_id'] ) ? (string) $event['event_id'] : '';
		if ( '' === $event_id ) {
			return false;
		}
		$record = array(
			'event_id'        => $event_id,
			'payload'         => $event,
			'state'           => 'pending',
			'attempts'        => 0,
			'created_at'      => time(),
			'next_attempt_at' => time(),
			'last_error'      => '',
		);
		if ( ! $this->insert_unique( self::OPTION_PREFIX . md5( $event_id ), $record ) ) {
			return false;
		}
		self::schedule_now( $event_id );
		return true;
	}

	/**
	 * Background handler: send one stored event and decide what happens next.
	 *
	 * @param string $event_id The event id.
	 */
	public function deliver( $event_id ) {
		$event_id = (string) $event_id;
		$option   = self::OPTION_PREFIX . md5( $event_id );
		$record   = get_option( $option );
		if ( ! is_array( $record ) || 'pending' !== $record['state'] ) {
			return; // Already delivered (or dead): a second run must not send twice.
		}
		if ( ! $this->acquire_lock( $event_id ) ) {
			return; // Another process is delivering it right now.
		}
		try {
			wp_cache_delete( $option, 'options' );
			$record = get_option( $option );
			if ( ! is_array( $record ) || 'pending' !== $record['state'] ) {
				return;
			}
			$response = $this->client->post_event( $record['payload'] );
			if ( $response->is_success() || 409 === $response->status ) {
				delete_option( $option );
				return;
			}
			$this->record_failure( $option, $record, $response );
		} finally {
			$this->release_lock( $event_id );
		}
	}

	/**
	 * Sweeper: schedule every pending event whose retry is overdue (its cron entry was lost, or
	 * the plugin was deactivated meanwhile).
	 */
	public function sweep() {
		foreach ( self::stored_records() as $record ) {
			if ( 'pending' === $record['state'] && $record['next_attempt_at'] <= time() - MINUTE_IN_SECONDS && ! self::is_scheduled( $record['event_id'] ) ) {
				self::schedule_now( $record['event_id'] );
			}
		}
	}

	/**
	 * Schedule every pending event that has no schedule (activation after a deactivation, which
	 * removed the schedules but kept the events).
	 */
	public static function resume_pending() {
		foreach ( self::stored_records() as $record ) {
			if ( 'pending' === $record['state'] && ! self::is_scheduled( $record['event_id'] ) ) {
				self::schedule_at( $record['event_id'], max( time(), (int) $record['next_attempt_at'] ) );
			}
		}
	}

	/**
	 * Counts by state for the settings page.
	 *
	 * @return array{pending: int, dead: int}
	 */
	public function counts() {
		$counts = array(
			'pending' => 0,
			'dead'    => 0,
		);
		foreach ( self::stored_records() as $record ) {
			if ( isset( $counts[ $record['state'] ] ) ) {
				++$counts[ $record['state'] ];
			}
		}
		return $counts;
	}

	/**
	 * Give dead events a fresh start (settings page button).
	 *
	 * @return int How many were re-queued.
	 */
	public function retry_dead() {
		$count = 0;
		foreach ( self::stored_records() as $option => $record ) {
			if ( 'dead' !== $record['state'] ) {
				continue;
			}
			$record['state']           = 'pending';
			$record['attempts']        = 0;
			$record['created_at']      = time();
			$record['next_attempt_at'] = time();
			update_option( $option, $record, false );
			self::schedule_now( $record['event_id'] );
			++$count;
		}
		return $count;
	}

	/**
	 * Seconds to wait after the given failed attempt.
	 *
	 * @param int  $attempts     Failed attempts so far (1 after the first failure).
	 * @param bool $client_error Whether the sidecar answered 4xx.
	 * @return int
	 */
	public static function backoff_seconds( $attempts, $client_error ) {
		if ( $client_error ) {
			return self::MAX_DELAY;
		}
		$exponent = min( max( 0, (int) $attempts - 1 ), 10 );
		return (int) min( self::FIRST_DELAY * ( 2 ** $exponent ), self::MAX_DELAY );
	}

	/**
	 * Start the recurring sweeper (activation).
	 */
	public static function schedule_sweeper() {
		if ( ! wp_next_scheduled( self::SWEEP_HOOK ) ) {
			wp_schedule_event( time() + MINUTE_IN_SECONDS, self::SWEEP_SCHEDULE, self::SWEEP_HOOK );
		}
	}

	/**
	 * Remove every schedule of ours (deactivation). Stored events stay.
	 */
	public static function unschedule_all() {
		wp_unschedule_hook( self::SWEEP_HOOK );
		wp_unschedule_hook( self::DELIVER_HOOK );
		if ( function_exists( 'as_unschedule_all_actions' ) ) {
			as_unschedule_all_actions( self::DELIVER_HOOK, array(), self::GROUP );
		}
	}

	/**
	 * Note the failure and schedule the next attempt (or mark the event dead).
	 *
	 * @param string                       $option   Option name.
	 * @param array                        $record   Stored record.
	 * @param OrderChatz_Sidecar_Response  $response What the sidecar said.
	 */
	private function record_failure( $option, array $record, OrderChatz_Sidecar_Response $response ) {
		++$record['attempts'];
		$record['last_error'] = $response->describe();
		if ( time() - (int) $record['created_at'] > self::MAX_AGE ) {
			$record['state'] = 'dead';
			update_option( $option, $record, false );
			error_log( sprintf( 'OrderChatz: gave up delivering event %s after %d attempts: %s', $record['event_id'], $record['attempts'], $record['last_error'] ) ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
			return;
		}
		$delay                     = self::backoff_seconds( $record['attempts'], $response->is_client_error() );
		$record['next_attempt_at'] = time() + $delay;
		update_option( $option, $record, false );
		self::schedule_at( $record['event_id'], $record['next_attempt_at'] );
		if ( 1 === $record['attempts'] || $response->is_client_error() ) {
			error_log( sprintf( 'OrderChatz: delivering event %s failed (attempt %d, next in %d s): %s', $record['event_id'], $record['attempts'], $delay, $record['last_error'] ) ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		}
	}

	/**
	 * Every stored record, keyed by option name.
	 *
	 * @return array<string, array>
	 */
	private static function stored_records() {
		global $wpdb;
		$names   = $wpdb->get_col( $wpdb->prepare( "SELECT option_name FROM {$wpdb->options} WHERE option_name LIKE %s", $wpdb->esc_like( self::OPTION_PREFIX ) . '%' ) ); // phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$records = array();
		foreach ( $names as $name ) {
			$record = get_option( $name );
			if ( is_array( $record ) && isset( $record['event_id'], $record['state'] ) ) {
				$records[ $name ] = $record;
			}
		}
		return $records;
	}

	/**
	 * Whether a delivery is already scheduled.
	 *
	 * @param string $event_id The event id.
	 * @return bool
	 */
	private static function is_scheduled( $event_id ) {
		if ( self::use_action_scheduler() && function_exists( 'as_has_scheduled_action' ) ) {
			return as_has_scheduled_action( self::DELIVER_HOOK, array( $event_id ), self::GROUP );
		}
		return false !== wp_next_scheduled( self::DELIVER_HOOK, array( $event_id ) );
	}

	/**
	 * Schedule an immediate background delivery, unique per event.
	 *
	 * @param string $event_id The event id.
	 */
	private static function schedule_now( $event_id ) {
		if ( self::use_action_scheduler() ) {
			as_enqueue_async_action( self::DELIVER_HOOK, array( $event_id ), self::GROUP, true );
			return;
		}
		if ( ! wp_next_scheduled( self::DELIVER_HOOK, array( $event_id ) ) ) {
			wp_schedule_single_event( time(), self::DELIVER_HOOK, array( $event_id ) );
		}
	}

	/**
	 * Schedule a retry.
	 *
	 * @param string $event_id  The event id.
	 * @param int    $timestamp When.
	 */
	private static function schedule_at( $event_id, $timestamp ) {
		if ( self::use_action_scheduler() ) {
			as_schedule_single_action( $timestamp, self::DELIVER_HOOK, array( $event_id ), self::GROUP );
			return;
		}
		wp_schedule_single_event( $timestamp, self::DELIVER_HOOK, array( $event_id ) );
	}

	/**
	 * Action Scheduler (bundled with WooCommerce) is loaded and initialised.
	 *
	 * @return bool
	 */
	private static function use_action_scheduler() {
		if ( ! function_exists( 'as_enqueue_async_action' ) || ! function_exists( 'as_schedule_single_action' ) ) {
			return false;
		}
		return ! class_exists( 'ActionScheduler' ) || ActionScheduler::is_initialized();
	}

	/**
	 * INSERT IGNORE a non-autoloaded option: atomic "create if absent" (add_option() is not).
	 *
	 * @param string $option Name.
	 * @param mixed  $value  Value.
	 * @return bool Whether this call created it.
	 */
	private function insert_unique( $option, $value ) {
		global $wpdb;
		$inserted = $wpdb->query( // phpcs:ignore WordPress.DB.DirectDatabaseQuery
			$wpdb->prepare( "INSERT IGNORE INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no')", $option, maybe_serialize( $value ) )
		);
		wp_cache_delete( $option, 'options' );
		wp_cache_delete( 'notoptions', 'options' );
		return 1 === (int) $inserted;
	}

	/**
	 * Take the per-event delivery lock; a lock older than LOCK_TTL is considered abandoned.
	 *
	 * @param string $event_id The event id.
	 * @return bool
	 */
	private function acquire_lock( $event_id ) {
		$lock = self::LOCK_PREFIX . md5( $event_id );
		if ( $this->insert_unique( $lock, time() ) ) {
			return true;
		}
		$taken_at = (int) get_option( $lock );
		if ( $taken_at > time() - self::LOCK_TTL ) {
			return false;
		}
		delete_option( $lock );
		return $this->insert_unique( $lock, time() );
	}

	/**
	 * Release the per-event lock.
	 *
	 * @param string $event_id The event id.
	 */
	private function release_lock( $event_id ) {
		delete_option( self::LOCK_PREFIX . md5( $event_id ) );
	}
}
