//! The Aether-V HTTP gateway: serves the web UI, the REST API under `/api/v1` and the
//! `/ws` WebSocket, and translates each request into gRPC calls to the services (inventory,
//! remote-tasks; jobs and notifications later). It holds no business logic. Called by its
//! binary, the launcher and the end-to-end tests through `serve`.

#![forbid(unsafe_code)]
