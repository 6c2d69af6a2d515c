"""Kudos: recognition for internal customer service."""

import os

# Piccolo finds its engine and app registry through this module path (CLI and runtime alike).
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")
