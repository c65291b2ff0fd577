"""Open the Polar customer portal from a FastAPI app.

One `AsyncPolar` is created when the app starts (in the lifespan) and shared by every request:
it holds the connection pool, so creating a client per request would throw that pool away each
time. The `/billing/portal` route creates a customer session for the signed-in user and
redirects the browser to the portal.

Needs, beyond the SDK: `pip install fastapi uvicorn`.

Run it (the token is read from POLAR_ACCESS_TOKEN; POLAR_SERVER picks "production", the
default, or "sandbox"; POLAR_BASE_URL names another API root instead, e.g. a local fake):

    uvicorn examples.fastapi_app:app

Polar errors become HTTP answers the browser can act on:

- 422 from Polar (no such customer, a team customer without a member) -> 400 with the detail;
- 401/403 from Polar (our token is wrong or lacks a scope) -> 502, and one log line for the
  operator that names the problem but never the token;
- 429 -> 503 with Retry-After; timeouts -> 504; other failures -> 502.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import RedirectResponse

from polar_sdk import AsyncPolar
from polar_sdk.errors import (
    APIConnectionError,
    APIException,
    APITimeoutError,
    AuthenticationError,
    HTTPValidationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
)

logger = logging.getLogger("examples.fastapi_app")


def polar_from_environment() -> AsyncPolar:
    """The app's client, configured from the environment (see the module docstring)."""
    # AsyncPolar reads POLAR_ACCESS_TOKEN, POLAR_SERVER and POLAR_BASE_URL itself.
    return AsyncPolar(timeout=10.0)


async def signed_in_user(x_user_id: Annotated[str | None, Header()] = None) -> str:
    """The id of the signed-in user, which the app also stored as the Polar external id.

    A real app reads its own session cookie or token here; this example trusts an
    `X-User-Id` header so it can be driven with plain HTTP requests.
    """
    if not x_user_id:
        raise HTTPException(status_code=401, detail="sign in first")
    return x_user_id


def get_polar(request: Request) -> AsyncPolar:
    """The shared client created in the lifespan."""
    polar: AsyncPolar = request.app.state.polar
    return polar


def create_app(polar_factory: Callable[[], AsyncPolar] = polar_from_environment) -> FastAPI:
    """Build the app; `polar_factory` makes the one client it shares (tests pass a fake)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with polar_factory() as polar:
            app.state.polar = polar
            yield

    app = FastAPI(title="Polar portal example", lifespan=lifespan)

    @app.get("/account", name="account")
    async def account(user_id: Annotated[str, Depends(signed_in_user)]) -> dict[str, str]:
        """Where the portal's back link leads."""
        return {"user": user_id}

    @app.get("/billing/portal")
    async def billing_portal(
        request: Request,
        user_id: Annotated[str, Depends(signed_in_user)],
        polar: Annotated[AsyncPolar, Depends(get_polar)],
    ) -> RedirectResponse:
        """Send the signed-in user to their Polar customer portal."""
        try:
            session = await polar.customer_sessions.create(
                external_customer_id=user_id,
                return_url=str(request.url_for("account")),
            )
        except HTTPValidationError as exc:
            raise HTTPException(
                status_code=400,
                detail=[{"loc": item.loc, "msg": item.msg} for item in exc.detail],
            ) from exc
        except InvalidRequestError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        except (AuthenticationError, PermissionDeniedError) as exc:
            # The operator must fix the configuration; the user can do nothing about it.
            # Log what Polar said (its error code), never the token or the headers.
            logger.error(
                "Polar refused our credentials: HTTP %d, error=%s; check POLAR_ACCESS_TOKEN "
                "and its scopes (customer_sessions:write)",
                exc.status_code,
                exc.error,
            )
            raise HTTPException(status_code=502, detail="billing is unavailable") from exc
        except RateLimitError as exc:
            retry_after = exc.retry_after
            headers = {"Retry-After": str(round(retry_after))} if retry_after is not None else None
            raise HTTPException(
                status_code=503, detail="billing is busy, try again", headers=headers
            ) from exc
        except APITimeoutError as exc:
            raise HTTPException(status_code=504, detail="billing did not answer") from exc
        except (APIConnectionError, APIException) as exc:
            logger.warning("Polar call failed: %s", exc)
            raise HTTPException(status_code=502, detail="billing is unavailable") from exc
        # 303: the browser follows with a GET, whatever method reached us.
        return RedirectResponse(session.customer_portal_url, status_code=303)

    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
