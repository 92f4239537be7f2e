from qbtrace.cli import main

main()
