"""Sample-data generator: a FIT encoder, a GPX writer, a physiological model of runners and
the athletes with planted patterns (``python -m synth.generate``)."""
