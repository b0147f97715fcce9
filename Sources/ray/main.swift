import RayCLI

RayCommand.mainWithCluster()
