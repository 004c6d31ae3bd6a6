"""python -m vae_training ...  (see python -m vae_training --help)"""
from .train import main

raise SystemExit(main())
