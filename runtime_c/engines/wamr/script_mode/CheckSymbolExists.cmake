# Script mode only (cmake -P, listing sources): WAMR's hosted ports probe the C library with
# check_symbol_exists, which needs a configured compiler. Listing needs no answer.
macro(check_symbol_exists symbol files variable)
  set(${variable} 1)
endmacro()
