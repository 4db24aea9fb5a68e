"""The author's tools: content checks, releases, diffs and the changelog, the SSSOM mapping set and the
RxNorm import."""
