"""Follow-up waves after return: when to ask, remind and give up."""
