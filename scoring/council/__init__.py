"""The appraisal council (Hội đồng thẩm định, DESIGN §2.3): members from several offices, each
appraising the areas assigned to them for every unit of a framework; its minutes and its sign-off."""
