"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloudbox import __version__
from cloudbox.api.errors import COMMON_ERROR_RESPONSES, install_error_handlers
from cloudbox.api.middleware import AuditMiddleware, BodyLimitMiddleware, ProjectCorsMiddleware
from cloudbox.api.routers import ROUTERS
from cloudbox.background import Background
from cloudbox.config import Settings
from cloudbox.runtime import Runtime


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. A runtime may be passed in (tests share one); otherwise the app owns
    one and closes it on shutdown."""
    owned = runtime is None
    rt = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        background = Background(rt)
        await background.start()
        try:
            yield
        finally:
            await background.stop()
            if owned:
                rt.close()

    app = FastAPI(
        title="CloudBox",
        version=__version__,
        description="Self-hosted backend-as-a-service with per-project backup and restore.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, responses=COMMON_ERROR_RESPONSES)
    # Outermost last: CORS wraps everything so even errors carry CORS headers.
    app.add_middleware(AuditMiddleware, runtime=rt)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_json_body_bytes)
    app.add_middleware(ProjectCorsMiddleware, runtime=rt)
    return app
