"""What the wheels-demo image runs: each line comes from a different installed wheel."""
import pkgutil

import datapkg_extra
import localpkg
import nvidia
from platpkg import add

print(f"platpkg.add(2, 3) = {add(2, 3)}")
print(f"localpkg flavour: {localpkg.FLAVOUR}")
print(f"datapkg_extra.EXTRA = {datapkg_extra.EXTRA}")
print("nvidia packages: " + ", ".join(sorted(m.name for m in pkgutil.iter_modules(nvidia.__path__))))
