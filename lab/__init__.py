"""The DR lab: a simulated two-site Hyper-V estate that the collection's real code runs against."""
