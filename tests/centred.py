"""What is particular to each input, for tests on random weights.

With random weights and noise inputs every input gets nearly the same logits, so a cosine and top-1
agreement pass even for an output that ignores its input (the reference's batch mean repeated scores
cosine 0.9998 and top-1 87.5% on ResNet18). verify's centred cosine compares each output's departure
from the reference's batch mean instead; the batch mean repeated scores 0. The tests use verify's own.
"""

from trtbench.checks.verify import centred_cosines

__all__ = ["centred_cosines"]
