/*  status_page.h: the live status page (GET /) and the JSON API it polls.

    The page (broker/www/index.html, compiled in at build time) is one
    self-contained file that fetches, every 2 s:

        GET /api/jobs       the newest jobs of every user, as `segq --json
                            status --all --limit N` prints them (?limit=N,
                            1..500, default 100; ?user=U; ?state=S)
        GET /api/workers    as `segq --json workers`
        GET /api/models     as `segq --json models`: the models the viewer
                            may use
        GET /api/usage      as `segq --json usage` (?by=user|kind|day, ?user=U):
                            everyone sees everyone's, as with the CLI
        GET /api/models/ID/thumbnail.png
                            the contact sheet of the newest generation from
                            model ID that the viewer may read (404 if none)

    Every answer goes through the broker's one access rule for the request's
    viewer (http.h): others' jobs show without their data, as STATUS shows
    them; models and thumbnails as MODEL and GET give them. */
#ifndef SEGQ_STATUS_PAGE_H
#define SEGQ_STATUS_PAGE_H

#include "http.h"

segq__http_handler_fn segq__status_page_index, segq__status_page_jobs, segq__status_page_workers,
    segq__status_page_models, segq__status_page_thumbnail, segq__status_page_usage;

#endif
