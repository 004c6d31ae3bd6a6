"""python -m vae_training ...  (see python -m vae_training --help)"""
from .cli import main

raise SystemExit(main())
