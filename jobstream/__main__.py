from jobstream.cli import main

main()
