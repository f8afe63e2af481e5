from neurocli.cli import main

main()
