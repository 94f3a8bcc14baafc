import Floe
try Runtime.initialize()
print(try Runtime.stats())
