"""Top-1 / Top-5 accuracy of an engine on labelled images."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trtbench.checks.dataset import Sample, batches, nothing_readable


def evaluate(engine, samples: list[Sample], batch: int, strict: bool = False,
             progress: Callable[[int], None] | None = None) -> dict:
    """Accuracy figures of ``engine`` (already active) over ``samples``.

    Unreadable images are skipped and counted ('skipped_files' keeps the first 20 as 'PATH: REASON');
    when none can be read, this is an error naming the first, raised before any figure exists.
    """
    skipped: list[str] = []
    seen = top1 = top5 = 0
    for inputs, labels in batches(samples, batch, strict=strict, skipped=skipped):
        logits = engine.infer(inputs)
        best5 = np.argsort(-logits, axis=1)[:, :5]
        for row, label in enumerate(labels):
            if label < 0:
                continue  # padding of the last batch
            seen += 1
            top1 += int(best5[row, 0] == label)
            top5 += int(label in best5[row])
        if progress is not None:
            progress(seen + len(skipped))
    if not seen:
        raise nothing_readable(len(samples), skipped[0] if skipped else None)
    return {"images": seen, "skipped": len(skipped), "skipped_files": skipped[:20],
            "top1": top1 / seen, "top5": top5 / seen}
