from .main import main

if __name__ == "__main__":  # not when a spawned worker process (Dask's, a pool's) imports the main module again
    raise SystemExit(main())
