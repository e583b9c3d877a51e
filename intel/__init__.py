"""Guest intelligence: what the cache and our own tags say about people.

`intel.vip` scores a person from configurable rules and says why; `intel.people` gathers a
person's profile, tags, notes, score and repeat count for the bot, exports and bulk filters.
Nothing here calls Luma or writes to it.
"""
