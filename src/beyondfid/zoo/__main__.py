"""``python -m beyondfid.zoo {splits,train,encoder} --profile <p>``: the zoo's DVC stages."""

from .registry import main

if __name__ == "__main__":
    raise SystemExit(main())
