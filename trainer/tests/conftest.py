import sys
from pathlib import Path

# The trainer package and the tests package import from trainer/ without installation.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
