"""JSON errors for every blueprint: {"error": code, "message": text}."""
from __future__ import annotations

from flask import jsonify
from werkzeug.exceptions import HTTPException

from sqlalchemy.exc import DataError, OperationalError

from ..domain.errors import DomainError
from ..gateways.line import LineError
from ..gateways.woo import WooError, WooNotFound


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str):
    resp = jsonify({"error": code, "message": message})
    resp.status_code = status
    return resp


def register_error_handlers(app) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(WooNotFound)
    def _woo_not_found(exc: WooNotFound):
        return error_response(404, "not_found", "WooCommerce has no such order, customer or product")

    @app.errorhandler(WooError)
    def _woo_error(exc: WooError):
        # The chat keeps working; the agent sees why the shop part did not.
        hint = getattr(exc, "hint", None)
        return error_response(502, "woocommerce_" + exc.__class__.__name__.removeprefix("Woo").lower(),
                              hint or "WooCommerce did not answer usefully; try again shortly")

    @app.errorhandler(LineError)
    def _line_error(exc: LineError):
        return error_response(502, f"line_{exc.code}", f"LINE refused or did not answer: {exc.message}")

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(exc):
        return error_response(400, "invalid_parameter", "a number in the request is out of range")

    @app.errorhandler(OperationalError)
    def _store_down(exc: OperationalError):
        app.logger.warning("database unavailable: %s", exc.__class__.__name__)
        return error_response(503, "store_unavailable", "the database is unavailable; retry shortly")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "the sidecar hit an unexpected error")
