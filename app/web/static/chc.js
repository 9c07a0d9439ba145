// Progressive enhancement for the CHC screens; every page works without this file.
