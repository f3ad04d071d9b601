"""One router per resource; ``serving.app`` mounts them all."""
