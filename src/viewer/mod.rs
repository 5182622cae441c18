//! The viewer's side: "which sealed hours am I in?". [`hours`] answers it for one login from the
//! store's user index (newest first, paged by epoch, the claim cap and the publication state
//! applied), for `GET /v1/users/{login}/epochs` and for the page alike; [`page`] renders the
//! server-side HTML page of `/` and `/claims` from those answers with the [`html`] escaping
//! helper; [`latest`] keeps the channels' latest seals for the page in a short-lived cache;
//! [`tokens`] writes base units as whole tokens. Everything here but `hours`, `latest` and
//! `published` is pure (data in, text out).

pub mod hours;
pub mod html;
pub mod latest;
pub mod page;
pub mod published;
pub mod tokens;
