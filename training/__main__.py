"""python -m training ...  (see python -m training --help)"""
from .train import main

raise SystemExit(main())
