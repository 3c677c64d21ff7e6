"""WooCommerce REST (wc/v3) gateway: the only code in the sidecar that talks to WooCommerce.

Transport rules (https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication):

* over HTTPS WooCommerce accepts HTTP Basic with the consumer key/secret;
* over plain HTTP it ignores Basic (``is_ssl()`` is false) and expects OAuth 1.0a "one-legged"
  signatures. We sign with requests-oauthlib (HMAC-SHA256), parameters in the query string as
  WooCommerce documents; the consumer *secret* never travels, only the key and a signature.

Paging: every list asks for ``per_page=100`` (the server maximum), a stable ``orderby=id``, and
follows ``X-WP-TotalPages``. Page URLs are built here, never taken from ``Link`` headers (under
OAuth those would carry an old signature and nonce).

Everything returned is one of our frozen dataclasses; errors are our own typed exceptions.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth1

log = logging.getLogger(__name__)

T = TypeVar("T")

API_PREFIX = "/wp-json/wc/v3"
MAX_PER_PAGE = 100  # WooCommerce rejects per_page > 100 with 400 rest_invalid_param

# WooCommerce 7.9 only computes line_items (and other "extra" order fields) or any product field
# when _fields names it exactly: "line_items.name" returns no line items at all. So whole objects
# are requested for those; dotted paths are fine for plain data such as an order's shipping block.
ORDER_FIELDS = (
    "id,number,status,currency,currency_symbol,total,date_created,date_created_gmt,customer_id,"
    "billing,shipping.first_name,shipping.last_name,shipping.phone,line_items"
)
ORDER_DETAIL_FIELDS = ORDER_FIELDS + ",customer_note,payment_method_title,date_paid,shipping_total"
NOTE_FIELDS = "id,author,date_created,date_created_gmt,note,customer_note"
CUSTOMER_FIELDS = "id,email,first_name,last_name,username,role,date_created,billing,shipping.phone"
PRODUCT_FIELDS = (
    "id,name,permalink,status,sku,price,regular_price,sale_price,on_sale,stock_status,images"
)

AuthMode = Literal["auto", "basic", "oauth"]


# --------------------------------------------------------------------------------------------
# Errors


class WooError(Exception):
    """Base of every WooCommerce gateway error. ``hint`` is text meant for the shop admin."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.hint = hint


class WooAuthRejected(WooError):
    """WooCommerce saw our credentials and refused them (wrong secret, bad signature, no rights)."""


class WooUnauthenticated(WooError):
    """The request reached WooCommerce as anonymous: credentials were ignored or stripped."""


class WooNotFound(WooError):
    """The order / customer / product does not exist."""


class WooRequestRejected(WooError):
    """WooCommerce refused the request itself (400-class other than auth / not found)."""


class WooUnavailable(WooError):
    """The store did not answer usefully in time: connection refused, timeout, 5xx, non-JSON."""


# --------------------------------------------------------------------------------------------
# Our own value objects


@dataclass(frozen=True)
class OrderItem:
    name: str
    quantity: int
    product_id: int | None = None


@dataclass(frozen=True)
class Order:
    id: int
    number: str
    status: str
    currency: str
    currency_symbol: str
    total: str
    date_created: str  # shop-local ISO time without offset, as WooCommerce sends it
    date_created_gmt: str
    customer_id: int  # 0 = guest checkout
    billing_first_name: str
    billing_last_name: str
    billing_company: str
    billing_email: str
    billing_phone: str
    shipping_first_name: str
    shipping_last_name: str
    shipping_phone: str
    items: tuple[OrderItem, ...]
    customer_note: str = ""  # the buyer's checkout note, not an order note
    payment_method_title: str = ""

    @property
    def is_guest(self) -> bool:
        return self.customer_id == 0

    @property
    def billing_name(self) -> str:
        return join_name(self.billing_first_name, self.billing_last_name)


@dataclass(frozen=True)
class OrderNote:
    id: int
    author: str
    date_created: str
    date_created_gmt: str
    note: str  # raw HTML as stored by WooCommerce (entities such as &rarr; are not decoded)
    customer_note: bool

    @property
    def is_private(self) -> bool:
        return not self.customer_note


@dataclass(frozen=True)
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    username: str
    role: str
    date_created: str
    billing_first_name: str
    billing_last_name: str
    billing_email: str
    billing_phone: str
    shipping_phone: str

    @property
    def name(self) -> str:
        return (join_name(self.first_name, self.last_name)
                or join_name(self.billing_first_name, self.billing_last_name)
                or self.username)


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    permalink: str
    status: str
    sku: str
    price: str
    regular_price: str
    sale_price: str
    on_sale: bool
    stock_status: str
    image_url: str | None
    image_alt: str = ""


@dataclass(frozen=True)
class OrderPage:
    orders: tuple[Order, ...]
    total: int | None
    total_pages: int | None


@dataclass(frozen=True)
class OrderQuery:
    """One ``GET /orders`` list query (without paging parameters)."""
    search: str | None = None
    customer: int | None = None
    status: str | None = None

    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.search is not None:
            out["search"] = self.search
        if self.customer is not None:
            out["customer"] = str(self.customer)
        if self.status is not None:
            out["status"] = self.status
        return out


def join_name(first: str, last: str) -> str:
    """Display name in the order a Taiwanese customer writes it: 王小明, but ``Ming Wang``."""
    first, last = (first or "").strip(), (last or "").strip()
    if not first or not last:
        return first or last
    if _is_cjk(first) or _is_cjk(last):
        return f"{last}{first}"
    return f"{first} {last}"


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


_ORDER_REF = re.compile(r"^\s*#?\s*(\d{1,12})\s*$")


def parse_order_ref(ref: str | int) -> int:
    """``#12345``, ``12345`` or 12345 → 12345. Raises ValueError for anything else."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        if ref <= 0:
            raise ValueError(f"not an order number: {ref!r}")
        return ref
    match = _ORDER_REF.match(str(ref))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not an order number: {ref!r}")
    return int(match.group(1))


# --------------------------------------------------------------------------------------------
# Parsing helpers (WooCommerce mixes strings and numbers; never trust a field to be present)


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _i(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _order_from_json(data: Mapping[str, Any]) -> Order:
    billing = data.get("billing") or {}
    shipping = data.get("shipping") or {}
    items = tuple(
        OrderItem(name=_s(item.get("name")), quantity=_i(item.get("quantity")),
                  product_id=_i(item.get("product_id")) or None)
        for item in (data.get("line_items") or []) if isinstance(item, Mapping)
    )
    return Order(
        id=_i(data.get("id")),
        number=_s(data.get("number") or data.get("id")),
        status=_s(data.get("status")),
        currency=_s(data.get("currency")),
        currency_symbol=_s(data.get("currency_symbol")),
        total=_s(data.get("total")),
        date_created=_s(data.get("date_created")),
        date_created_gmt=_s(data.get("date_created_gmt")),
        customer_id=_i(data.get("customer_id")),
        billing_first_name=_s(billing.get("first_name")),
        billing_last_name=_s(billing.get("last_name")),
        billing_company=_s(billing.get("company")),
        billing_email=_s(billing.get("email")),
        billing_phone=_s(billing.get("phone")),
        shipping_first_name=_s(shipping.get("first_name")),
        shipping_last_name=_s(shipping.get("last_name")),
        shipping_phone=_s(shipping.get("phone")),
        items=items,
        customer_note=_s(data.get("customer_note")),
        payment_method_title=_s(data.get("payment_method_title")),
    )


def _note_from_json(data: Mapping[str, Any]) -> OrderNote:
    return OrderNote(
        id=_i(data.get("id")),
        author=_s(data.get("author")),
        date_created=_s(data.get("date_created")),
        date_created_gmt=_s(data.get("date_created_gmt")),
        note=_s(data.get("note")),
        customer_note=data.get("customer_note") is True,
    )


def _customer_from_json(data: Mapping[str, Any]) -> Customer:
    billing = data.get("billing") or {}
    shipping = data.get("shipping") or {}
    return Customer(
        id=_i(data.get("id")),
        email=_s(data.get("email")),
        first_name=_s(data.get("first_name")),
        last_name=_s(data.get("last_name")),
        username=_s(data.get("username")),
        role=_s(data.get("role")),
        date_created=_s(data.get("date_created")),
        billing_first_name=_s(billing.get("first_name")),
        billing_last_name=_s(billing.get("last_name")),
        billing_email=_s(billing.get("email")),
        billing_phone=_s(billing.get("phone")),
        shipping_phone=_s(shipping.get("phone")),
    )


def _product_from_json(data: Mapping[str, Any]) -> Product:
    images = [img for img in (data.get("images") or []) if isinstance(img, Mapping)]
    first = images[0] if images else {}
    return Product(
        id=_i(data.get("id")),
        name=_s(data.get("name")),
        permalink=_s(data.get("permalink")),
        status=_s(data.get("status")),
        sku=_s(data.get("sku")),
        price=_s(data.get("price")),
        regular_price=_s(data.get("regular_price")),
        sale_price=_s(data.get("sale_price")),
        on_sale=data.get("on_sale") is True,
        stock_status=_s(data.get("stock_status")),
        image_url=_s(first.get("src")) or None,
        image_alt=_s(first.get("alt")),
    )


_DISCOVERY_LINK = re.compile(r'<(https?)://[^>]*>;\s*rel="https://api\.w\.org/"')


def _wordpress_saw_https(response: requests.Response) -> bool | None:
    match = _DISCOVERY_LINK.search(response.headers.get("Link", ""))
    return None if match is None else match.group(1) == "https"


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# The client


class WooClient:
    """Typed client for one WooCommerce store.

    ``auth="auto"`` picks Basic for ``https://`` store URLs and OAuth 1.0a for ``http://``.
    ``auth="basic"`` over http is only for a store behind a TLS-terminating proxy on a trusted
    network (WordPress then needs to see ``X-Forwarded-Proto: https``; pass it in
    ``extra_headers`` if the proxy doesn't add it).

    ``round_trips`` counts HTTP requests; ``waves`` counts sequential steps (one request, or one
    batch run in parallel by :meth:`parallel`), which is what latency budgets are about.
    """

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        auth: AuthMode = "auto",
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        max_workers: int = 12,
        extra_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        oauth_site_url: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("WooCommerce URL must be an absolute http(s) URL")
        if not consumer_key or not consumer_secret:
            raise ValueError("WooCommerce consumer key and secret are required")
        if auth not in ("auto", "basic", "oauth"):
            raise ValueError(f"unknown auth mode {auth!r}")
        self.base_url = base_url.rstrip("/")
        self.is_https = parts.scheme == "https"
        self.auth_mode: Literal["basic", "oauth"] = (
            ("basic" if self.is_https else "oauth") if auth == "auto" else auth)
        self._key = consumer_key
        self._secret = consumer_secret
        self.timeout = (connect_timeout, read_timeout)
        self.max_workers = max(1, max_workers)
        self._extra_headers = dict(extra_headers or {})
        # WooCommerce checks OAuth signatures against WordPress' own home URL, not the Host we
        # dialled; inside docker-compose those differ (http://wordpress vs http://localhost:8080).
        self._oauth_site_url = oauth_site_url.rstrip("/") if oauth_site_url else None
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(self.max_workers, 10))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="woo")
        self._lock = threading.Lock()
        self._round_trips = 0
        self._waves = 0
        self._in_parallel = threading.local()

    def __repr__(self) -> str:  # never show credentials
        return f"WooClient({self.base_url!r}, auth={self.auth_mode!r})"

    # -- counters ------------------------------------------------------------------------------

    @property
    def round_trips(self) -> int:
        return self._round_trips

    @property
    def waves(self) -> int:
        return self._waves

    def reset_counters(self) -> None:
        with self._lock:
            self._round_trips = 0
            self._waves = 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    # -- concurrency ---------------------------------------------------------------------------

    def parallel(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent calls concurrently as one wave; results in call order.

        The first exception (in call order) is re-raised after every call has finished, so no
        request is left running in the background.
        """
        if not calls:
            return []
        if getattr(self._in_parallel, "active", False):
            # Already inside a wave (a pool thread): run inline rather than wait on our own pool.
            return [call() for call in calls]
        with self._lock:
            self._waves += 1
        if len(calls) == 1:
            return [self._run_in_wave(calls[0])]
        futures = [self._pool.submit(self._run_in_wave, call) for call in calls]
        results: list[T] = []
        error: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                if error is None:
                    error = exc
                results.append(None)  # type: ignore[arg-type]
        if error is not None:
            raise error
        return results

    def _run_in_wave(self, call: Callable[[], T]) -> T:
        outer = getattr(self._in_parallel, "active", False)
        self._in_parallel.active = True
        try:
            return call()
        finally:
            self._in_parallel.active = outer

    # -- HTTP ----------------------------------------------------------------------------------

    def _url(self, path: str, params: Mapping[str, str] | None) -> str:
        url = f"{self.base_url}{API_PREFIX}{path}"
        if params:
            # %20 for spaces and %2B for '+': a '+' on the wire would become a space in PHP.
            url += "?" + urlencode(list(params.items()), quote_via=quote, safe="")
        return url

    def _auth(self) -> requests.auth.AuthBase:
        if self.auth_mode == "basic":
            return HTTPBasicAuth(self._key, self._secret)
        # A fresh signer per request: a new nonce/timestamp each time, nothing shared across threads.
        if self._oauth_site_url and self._oauth_site_url != self.base_url:
            return _SiteSignedOAuth1(self._key, client_secret=self._secret,
                                     signature_method="HMAC-SHA256", signature_type="query",
                                     dialled=self.base_url, signed_as=self._oauth_site_url)
        return OAuth1(self._key, client_secret=self._secret, signature_method="HMAC-SHA256",
                      signature_type="query")

    def _request(self, method: str, path: str, params: Mapping[str, str] | None = None,
                 json_body: Any = None) -> requests.Response:
        if not getattr(self._in_parallel, "active", False):
            with self._lock:
                self._waves += 1
        with self._lock:
            self._round_trips += 1
        url = self._url(path, params)
        headers = {"Accept": "application/json", **self._extra_headers}
        started = time.monotonic()
        try:
            response = self._session.request(method, url, params=None, json=json_body,
                                             headers=headers, auth=self._auth(),
                                             timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            log.warning("woo %s %s timed out after %.2fs", method, path, time.monotonic() - started)
            raise WooUnavailable(f"WooCommerce did not answer within {self.timeout[1]:g}s",
                                 hint="The shop is slow or overloaded; try again shortly.") from exc
        except requests.RequestException as exc:
            log.warning("woo %s %s failed: %s", method, path, type(exc).__name__)
            raise WooUnavailable("WooCommerce could not be reached",
                                 hint="Check the shop URL and that WordPress is running.") from exc
        # Path only: query strings hold OAuth signatures and customers' phone numbers.
        log.info("woo %s %s -> %s in %.0f ms", method, path, response.status_code,
                 (time.monotonic() - started) * 1000)
        if response.status_code >= 300:
            raise self._error_for(response)
        return response

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            # e.g. a maintenance page, a security plugin's HTML, or PHP warnings before the JSON
            raise WooUnavailable("WooCommerce answered with something that is not JSON",
                                 status=response.status_code,
                                 hint="A plugin or the web server may be printing HTML before the "
                                      "REST response.") from exc

    def _error_for(self, response: requests.Response) -> WooError:
        status = response.status_code
        code, message = None, None
        try:
            body = response.json()
            if isinstance(body, Mapping):
                code = body.get("code")
                message = body.get("message")
        except ValueError:
            pass
        text = f"WooCommerce answered {status}" + (f" {code}: {message}" if code else "")
        if status >= 500 or status in (408, 429):
            return WooUnavailable(text, status=status, code=code,
                                  hint="The shop is failing or overloaded; try again shortly.")
        if status in (301, 302, 303, 307, 308):
            return WooUnavailable(text, status=status, code=code,
                                  hint="The shop redirects its REST API; set the final URL "
                                       "(often https:// or with/without www) as the WooCommerce URL.")
        if code == "woocommerce_rest_authentication_error":
            hint = ("WooCommerce rejected the API key: check the consumer key and secret "
                    "(WooCommerce → Settings → Advanced → REST API) and that the key has "
                    "Read/Write permission.")
            if "signature" in (message or "").lower():
                hint += (" An OAuth signature mismatch with the right secret means WordPress' "
                         "site URL (Settings → General) differs from the URL used here: pass "
                         "it as oauth_site_url, or use https with Basic auth.")
            return WooAuthRejected(text, status=status, code=code, hint=hint)
        if status == 401:
            return WooUnauthenticated(text, status=status, code=code,
                                      hint=self._anonymous_hint(_wordpress_saw_https(response)))
        if status == 403:
            return WooAuthRejected(text, status=status, code=code,
                                   hint="The API key's user lacks the rights for this request; "
                                        "give the key Read/Write permission and an admin/shop "
                                        "manager user.")
        if status == 404:
            return WooNotFound(text, status=status, code=code)
        return WooRequestRejected(text, status=status, code=code)

    def _anonymous_hint(self, saw_https: bool | None) -> str:
        """Why WooCommerce treated us as anonymous, as specifically as the answer allows.

        WordPress builds the discovery ``Link`` of the 401 from ``is_ssl()``, so its scheme tells
        whether WordPress saw the request as HTTPS (then Basic would have been read).
        """
        stripped = ("The request reached WooCommerce without credentials: the web server or a "
                    "proxy in front of it strips the Authorization header (common with Apache + "
                    "PHP-FPM/CGI: add 'CGIPassAuth On' or "
                    "'SetEnvIf Authorization \"(.*)\" HTTP_AUTHORIZATION=$1'), or the consumer "
                    "key no longer exists.")
        if self.auth_mode == "basic":
            if saw_https is False or (saw_https is None and not self.is_https):
                return ("WooCommerce ignores HTTP Basic authentication when WordPress sees plain "
                        "HTTP (is_ssl() is false) and expects OAuth 1.0a there. Use an https:// "
                        "shop URL, leave the auth mode on 'auto' so OAuth is used over http, or "
                        "make WordPress honour the proxy's X-Forwarded-Proto header.")
            return stripped
        if saw_https:
            return ("WordPress treats these requests as HTTPS (a TLS-terminating proxy or "
                    "X-Forwarded-Proto), and over HTTPS WooCommerce reads HTTP Basic, not OAuth: "
                    "set the auth mode to 'basic'.")
        return ("The OAuth-signed request reached WooCommerce without credentials: check that the "
                "consumer key still exists and that nothing rewrites the query string.")

    # -- generic list paging -------------------------------------------------------------------

    def _list_page(self, path: str, params: Mapping[str, str], page: int,
                   per_page: int = MAX_PER_PAGE) -> tuple[list[dict], int | None]:
        query = {**params, "per_page": str(per_page), "page": str(page)}
        query.setdefault("orderby", "id")
        query.setdefault("order", "asc")
        response = self._request("GET", path, query)
        body = self._json(response)
        if not isinstance(body, list):
            raise WooUnavailable("WooCommerce answered a list request with a non-list body",
                                 status=response.status_code)
        return [item for item in body if isinstance(item, dict)], _header_int(
            response.headers, "X-WP-TotalPages")

    def list_all_many(
        self, path: str, queries: Sequence[Mapping[str, str]],
        also: Sequence[Callable[[], Any]] = (),
        then: Callable[[list[list[dict]], list[Any]], Sequence[Callable[[], Any]]] | None = None,
    ) -> tuple[list[list[dict]], list[Any], list[Any]]:
        """Fetch every page of several list queries in (normally) two waves.

        Wave 1: page 1 of every query, plus the ``also`` calls, in parallel. Wave 2: all remaining
        pages of all queries (as announced by ``X-WP-TotalPages``) plus the calls ``then``
        derives from wave 1's results, in parallel. Items are de-duplicated by id per query.
        Returns (items per query, ``also`` results, ``then`` results). If a server omits the
        header, pages are followed one at a time until a short page.
        """
        first = self.parallel(
            [(lambda q=q: self._list_page(path, q, 1)) for q in queries] + list(also))
        first_pages, also_results = first[:len(queries)], first[len(queries):]
        collected: list[list[dict]] = [list(items) for items, _ in first_pages]
        extra_calls = list(then(collected, also_results)) if then is not None else []
        rest_calls: list[Callable[[], Any]] = []
        owners: list[int] = []
        unknown: list[int] = []
        for index, (items, total_pages) in enumerate(first_pages):
            if total_pages is None:
                if len(items) >= MAX_PER_PAGE:
                    unknown.append(index)
                continue
            for page in range(2, total_pages + 1):
                rest_calls.append(lambda q=queries[index], p=page: self._list_page(path, q, p))
                owners.append(index)
        second = self.parallel(rest_calls + extra_calls)
        for owner, (items, _) in zip(owners, second[:len(rest_calls)]):
            collected[owner].extend(items)
        for index in unknown:
            page = 2
            while True:
                items, _ = self._list_page(path, queries[index], page)
                collected[index].extend(items)
                if len(items) < MAX_PER_PAGE:
                    break
                page += 1
        return [_dedupe(items) for items in collected], also_results, second[len(rest_calls):]

    # -- orders --------------------------------------------------------------------------------

    def order_page(self, query: OrderQuery, page: int = 1, *,
                   fields: str = ORDER_FIELDS) -> OrderPage:
        params = {**query.params(), "_fields": fields, "per_page": str(MAX_PER_PAGE),
                  "page": str(page), "orderby": "id", "order": "asc"}
        response = self._request("GET", "/orders", params)
        body = self._json(response)
        if not isinstance(body, list):
            raise WooUnavailable("unexpected orders body", status=response.status_code)
        return OrderPage(tuple(_order_from_json(o) for o in body if isinstance(o, dict)),
                         _header_int(response.headers, "X-WP-Total"),
                         _header_int(response.headers, "X-WP-TotalPages"))

    def list_orders_many(
        self, queries: Sequence[OrderQuery], also: Sequence[Callable[[], Any]] = (),
        then: Callable[[list[list[Order]], list[Any]], Sequence[Callable[[], Any]]] | None = None,
    ) -> tuple[list[list[Order]], list[Any], list[Any]]:
        """All orders of each query (every page) in two waves; see :meth:`list_all_many`.

        ``then`` sees the first pages as Orders and may add calls to the second wave.
        """
        convert = lambda raw: [[_order_from_json(o) for o in items] for items in raw]  # noqa: E731
        wrapped = (lambda raw, extra: then(convert(raw), extra)) if then is not None else None
        raw, extra, later = self.list_all_many(
            "/orders", [{**q.params(), "_fields": ORDER_FIELDS} for q in queries], also, wrapped)
        return convert(raw), extra, later

    def list_orders(self, query: OrderQuery) -> list[Order]:
        return self.list_orders_many([query])[0][0]

    def get_order(self, ref: str | int) -> Order:
        order_id = parse_order_ref(ref)
        body = self._json(self._request("GET", f"/orders/{order_id}",
                                        {"_fields": ORDER_DETAIL_FIELDS}))
        if not isinstance(body, dict):
            raise WooUnavailable("unexpected order body")
        return _order_from_json(body)

    def list_order_notes(self, ref: str | int, note_type: str = "any") -> list[OrderNote]:
        order_id = parse_order_ref(ref)
        if note_type not in ("any", "customer", "internal"):
            raise ValueError(f"unknown note type {note_type!r}")
        params = {"_fields": NOTE_FIELDS}
        if note_type != "any":
            params["type"] = note_type
        # The notes endpoint is not paginated (no X-WP-Total headers): one request returns all.
        body = self._json(self._request("GET", f"/orders/{order_id}/notes", params))
        if not isinstance(body, list):
            raise WooUnavailable("unexpected notes body")
        return [_note_from_json(n) for n in body if isinstance(n, dict)]

    def get_order_with_notes(self, ref: str | int) -> tuple[Order, list[OrderNote]]:
        """The order and its notes, fetched in parallel (one wave)."""
        order_id = parse_order_ref(ref)
        order, notes = self.parallel([lambda: self.get_order(order_id),
                                      lambda: self.list_order_notes(order_id)])
        return order, notes

    def add_order_note(self, ref: str | int, note: str, customer_note: bool) -> OrderNote:
        """Add a note; a customer note makes WooCommerce email the buyer.

        ``added_by_user`` makes the API key's user the author (otherwise "WooCommerce").
        The returned note's ``customer_note`` is what WooCommerce actually recorded.
        """
        if not isinstance(customer_note, bool):
            raise TypeError("customer_note must be a bool")
        if not note or not note.strip():
            raise ValueError("note text is empty")
        order_id = parse_order_ref(ref)
        body = self._json(self._request(
            "POST", f"/orders/{order_id}/notes", None,
            {"note": note, "customer_note": customer_note, "added_by_user": True}))
        if not isinstance(body, dict):
            raise WooUnavailable("unexpected note body")
        return _note_from_json(body)

    def update_order_status(self, ref: str | int, status: str) -> Order:
        order_id = parse_order_ref(ref)
        body = self._json(self._request("PUT", f"/orders/{order_id}",
                                        {"_fields": ORDER_DETAIL_FIELDS}, {"status": status}))
        return _order_from_json(body)

    # -- customers -----------------------------------------------------------------------------

    def get_customer(self, customer_id: int) -> Customer:
        if int(customer_id) <= 0:
            raise WooNotFound(f"no registered customer {customer_id}")
        body = self._json(self._request("GET", f"/customers/{int(customer_id)}",
                                        {"_fields": CUSTOMER_FIELDS}))
        if not isinstance(body, dict):
            raise WooUnavailable("unexpected customer body")
        return _customer_from_json(body)

    def _customer_list(self, params: Mapping[str, str]) -> list[Customer]:
        raw, _, _ = self.list_all_many("/customers", [{**params, "_fields": CUSTOMER_FIELDS}])
        return [_customer_from_json(c) for c in raw[0]]

    def find_customers_by_email(self, email: str) -> list[Customer]:
        """Registered accounts with exactly this email (any role)."""
        return self._customer_list({"email": email.strip(), "role": "all"})

    def search_customers(self, term: str) -> list[Customer]:
        """WooCommerce's account search: login, email, URL, nicename, display name (not names or phones)."""
        return self._customer_list({"search": term.strip(), "role": "all"})

    def get_customers(self, ids: Iterable[int]) -> list[Customer]:
        wanted = sorted({int(i) for i in ids if int(i) > 0})
        if not wanted:
            return []
        return self._customer_list({"include": ",".join(map(str, wanted)), "role": "all"})

    def count_customer_orders(self, customer_id: int) -> tuple[int, str | None]:
        """(number of orders, newest order's date) for a registered customer, in one request."""
        response = self._request("GET", "/orders", {
            "customer": str(int(customer_id)), "per_page": "1", "page": "1",
            "orderby": "date", "order": "desc", "_fields": "id,date_created"})
        body = self._json(response)
        newest = body[0].get("date_created") if isinstance(body, list) and body else None
        total = _header_int(response.headers, "X-WP-Total")
        return (total if total is not None else len(body or [])), newest

    # -- products ------------------------------------------------------------------------------

    def get_product(self, product_id: int) -> Product:
        body = self._json(self._request("GET", f"/products/{int(product_id)}",
                                        {"_fields": PRODUCT_FIELDS}))
        if not isinstance(body, dict):
            raise WooUnavailable("unexpected product body")
        return _product_from_json(body)

    def search_products(self, q: str) -> list[Product]:
        """Published products whose name/description matches ``q`` or whose SKU contains it.

        WooCommerce's ``search`` ignores SKUs and ``sku=`` is exact, so both a text search and a
        ``search_sku`` (partial) search run in parallel; name matches come first.
        """
        term = q.strip()
        if not term:
            return []
        raw, _, _ = self.list_all_many("/products", [
            {"search": term, "status": "publish", "_fields": PRODUCT_FIELDS},
            {"search_sku": term, "status": "publish", "_fields": PRODUCT_FIELDS},
        ])
        merged = _dedupe(raw[0] + raw[1])
        return [_product_from_json(p) for p in merged if p.get("status", "publish") == "publish"]


class _SiteSignedOAuth1(OAuth1):
    """OAuth1 that signs the URL as WordPress knows it but sends the request where we dial."""

    def __init__(self, *args: Any, dialled: str, signed_as: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._dialled, self._signed_as = dialled, signed_as

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if not r.url or not r.url.startswith(self._dialled):
            return super().__call__(r)
        r.url = self._signed_as + r.url[len(self._dialled):]
        r = super().__call__(r)
        r.url = self._dialled + r.url[len(self._signed_as):]
        return r


def _dedupe(items: Iterable[dict]) -> list[dict]:
    seen: set[Any] = set()
    out: list[dict] = []
    for item in items:
        key = item.get("id")
        if key in seen:
            continue
        seen.add(key)
        out.append(item)
    return out
